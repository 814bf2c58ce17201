package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// addConfigSeeds seeds f with the repository's sample configuration files
// (config/*.properties), the most realistic inputs there are.
func addConfigSeeds(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "config", "*.properties"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed files in config/: %v", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzParseProperties checks that parsing is deterministic and that what
// it returns survives a round trip: written back out with every special
// character escaped, it parses to the same map.
func FuzzParseProperties(f *testing.F) {
	addConfigSeeds(f)
	for _, s := range []string{
		"a=b\\\n   c\n",
		"key\\ with\\ spaces = v\r\nunicode=caf\\u00e9\remoji=\\ud83d\\ude00\n",
		"#c\n!c\n\\\n#k:v\n  \\\n\n",
		"k\\=v\\:w = \\ leading\\\\\\t\\n\\f",
		"bad=\\u12",
		"=\n:\n \\\t=\f",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseProperties(data)
		m2, err2 := ParseProperties(data)
		if !reflect.DeepEqual(m, m2) || !reflect.DeepEqual(err, err2) {
			t.Fatalf("two parses differ: %q, %v then %q, %v", m, err, m2, err2)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error does not name a line: %v", err)
			}
			return
		}
		out := formatProperties(m)
		back, err := ParseProperties(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip changed the map:\nparsed  %q\nwritten %q\nback    %q", m, out, back)
		}
	})
}

// formatProperties writes m as .properties text, one key=value line per
// key, escaping what the parser would otherwise read differently (as
// java.util.Properties.store does, minus its \u escapes).
func formatProperties(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		escapeProperty(&b, k, true)
		b.WriteByte('=')
		escapeProperty(&b, m[k], false)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func escapeProperty(b *bytes.Buffer, s string, key bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case (c == '=' || c == ':') && key:
			b.WriteByte('\\')
			b.WriteByte(c)
		case (c == '#' || c == '!') && key && i == 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}

// FuzzConnectorJSON checks the JSON connector-file parser: no panic, the
// same answer twice, and every number kept exactly as written.
func FuzzConnectorJSON(f *testing.F) {
	addConfigSeeds(f) // not JSON: exercises the error paths
	for _, s := range []string{
		`{"name":"local-file-source","connector.class":"FileStreamSource","tasks.max":1,"file":"data/test.txt","topic":"connect-test"}`,
		`{"name":"local-file-sink","config":{"connector.class":"FileStreamSink","tasks.max":"1","file":"data/test.sink.txt","topics":"connect-test"}}`,
		`{"name":"c","batch.size":1000000,"big":9007199254740993,"f":-1.5e-7,"b":true,"n":null}`,
		`{"name":5,"config":{"name":"5","x":1E400}}`,
		`{"a":1} {"b":2}`,
		`{"a":[1],"b":{}}`,
		"\n\t{\"a\":\"\\u00e9\\n\"}\r\n",
		`null`,
		``,
		"\ufeff{\"name\":\"bom\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConnectorJSON(data)
		cfg2, err2 := parseConnectorJSON(data)
		if !reflect.DeepEqual(cfg, cfg2) || !reflect.DeepEqual(err, err2) {
			t.Fatalf("two parses differ: %q, %v then %q, %v", cfg, err, cfg2, err2)
		}
		if err != nil {
			return
		}
		// Read the document again, keeping each value's raw text.
		var top map[string]json.RawMessage
		if err := json.Unmarshal(bytes.TrimPrefix(data, []byte("\ufeff")), &top); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", data, err)
		}
		values, wrapped := top, false
		if raw := bytes.TrimSpace(top["config"]); len(raw) > 0 && raw[0] == '{' {
			values, wrapped = nil, true
			if err := json.Unmarshal(raw, &values); err != nil {
				t.Fatal(err)
			}
		}
		for k, raw := range values {
			raw = bytes.TrimSpace(raw)
			if wrapped && k == "name" {
				continue // the outer name wins
			}
			switch {
			case len(raw) == 0:
				t.Fatalf("key %q: empty raw value", k)
			case raw[0] == '-' || ('0' <= raw[0] && raw[0] <= '9'):
				if cfg[k] != string(raw) {
					t.Fatalf("key %q: number %s came out as %q", k, raw, cfg[k])
				}
			case string(raw) == "null":
				if _, ok := cfg[k]; ok {
					t.Fatalf("key %q: null came out as %q", k, cfg[k])
				}
			}
		}
		for k := range cfg {
			if _, ok := values[k]; !ok && !(wrapped && k == "name") {
				t.Fatalf("key %q is not in the document", k)
			}
		}
	})
}

// FuzzNewWorker checks that NewWorker never panics, that a config it
// accepts is usable (positive durations, a sane port and backoff), that
// every problem it reports names a key of the worker key table, and that
// UnusedWorkerKeys agrees with the table.
func FuzzNewWorker(f *testing.F) {
	addConfigSeeds(f)
	for _, s := range []string{
		"offset.flush.interval.ms=0\nferry.embedded.port=65536\nlisteners=https://:8443",
		"ferry.restart.backoff.initial.ms=31536000000\nferry.restart.backoff.max.ms=1\nferry.restart.max.attempts=-1",
		"ferry.allowed.paths= , \nlisteners=\nferry.admin.listener=",
		"task.shutdown.graceful.timeout.ms=9223372036854775807\nferry.startup.timeout.ms=+5",
		"offset.flush.intervall.ms=1\nprodcuer.acks=all\ngroup.id=x\nBootstrap.Servers=y",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, props := range []map[string]string{rawProps(data, nil), rawProps(data, map[string]string{
			"key.converter": "StringConverter", "value.converter": "StringConverter",
			"offset.storage.file.filename": "/tmp/offsets",
		})} {
			checkWorker(t, props)
			checkUnusedKeys(t, props)
		}
	})
}

// rawProps builds a properties map from data without the .properties
// syntax, so that any byte can reach a key or a value: one key=value per
// line, over a copy of base.
func rawProps(data []byte, base map[string]string) map[string]string {
	props := map[string]string{}
	for k, v := range base {
		props[k] = v
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[k] = v
		}
	}
	return props
}

func checkWorker(t *testing.T, props map[string]string) {
	w, err := NewWorker("fuzz", props)
	if err != nil {
		var cerr *Error
		if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
			t.Fatalf("error %v is not a *Error with problems", err)
		}
		for _, p := range cerr.Problems {
			key, _, _ := strings.Cut(p, ": ")
			if k, ok := lookupWorkerKey(key); !ok || !k.used {
				t.Fatalf("problem %q names %q, not a key NewWorker reads", p, key)
			}
		}
		return
	}
	for name, d := range map[string]int64{
		"FlushInterval": int64(w.FlushInterval), "FlushTimeout": int64(w.FlushTimeout),
		"ShutdownTimeout": int64(w.ShutdownTimeout), "HeartbeatTimeout": int64(w.HeartbeatTimeout),
		"StartupTimeout": int64(w.StartupTimeout), "RestartBackoff": int64(w.RestartBackoff),
	} {
		if d <= 0 {
			t.Fatalf("%s = %d from %q", name, d, props)
		}
	}
	if w.MaxRestartBackoff < w.RestartBackoff || w.RestartAttempts < 0 || w.EmbeddedPort < 0 || w.EmbeddedPort > 65535 {
		t.Fatalf("accepted %+v from %q", w, props)
	}
	if w.KeyConverter.Class == "" || w.ValueConverter.Class == "" || w.OffsetsFile == "" || w.DataDir == "" {
		t.Fatalf("required settings missing in %+v from %q", w, props)
	}
	for _, l := range w.Listeners {
		if !strings.HasPrefix(l, "http://") {
			t.Fatalf("accepted listener %q", l)
		}
	}
}

func checkUnusedKeys(t *testing.T, props map[string]string) {
	got := UnusedWorkerKeys(props, false)
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].Key < got[j].Key }) {
		t.Fatalf("not sorted: %v", got)
	}
	for _, u := range got {
		if _, ok := props[u.Key]; !ok {
			t.Fatalf("reported %q, which is not in props", u.Key)
		}
		k, known := lookupWorkerKey(u.Key)
		switch u.Status {
		case KeyUnknown:
			if known {
				t.Fatalf("%q reported unknown but is in the table", u.Key)
			}
			if u.Suggestion != "" {
				if _, ok := lookupWorkerKey(u.Suggestion); !ok {
					t.Fatalf("%q: suggestion %q is not a known key", u.Key, u.Suggestion)
				}
			}
		case KeyIgnored:
			if !known || (k.used && k.only != onlyDistributed) || u.Reason == "" {
				t.Fatalf("%q reported ignored: %+v", u.Key, k)
			}
		default:
			t.Fatalf("%q: status %v", u.Key, u.Status)
		}
	}
}
