package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	in := `# comment
! also a comment
name=local-file-source
connector.class = FileStreamSource
tasks.max: 1
file /tmp/test.txt
topic=connect-\
    test
key\ with\ spaces=v
unicode=caf\u00e9
empty=
trailing=value   
double==value
spaced : =v
`
	got, err := ParseProperties([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name":            "local-file-source",
		"connector.class": "FileStreamSource",
		"tasks.max":       "1",
		"file":            "/tmp/test.txt",
		"topic":           "connect-test",
		"key with spaces": "v",
		"unicode":         "café",
		"empty":           "",
		"trailing":        "value   ",
		"double":          "=value",
		"spaced":          "=v",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestLoadConnectorJSON(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"wrapped.json": `{"name":"c","config":{"connector.class":"FileStreamSink","tasks.max":2,"topics":"t"}}`,
		"flat.json":    `{"name":"c","connector.class":"FileStreamSink","tasks.max":"2","topics":"t"}`,
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(body), 0o644)
		cfg, err := LoadConnector(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg["name"] != "c" || cfg["tasks.max"] != "2" || cfg["topics"] != "t" {
			t.Errorf("%s: %v", name, cfg)
		}
	}
}

func TestWorkerConfigErrorsNameKeys(t *testing.T) {
	_, err := NewWorker("w.properties", map[string]string{"offset.flush.interval.ms": "soon", "listeners": "https://:8443"})
	if err == nil {
		t.Fatal("bad worker config accepted")
	}
	for _, key := range []string{"key.converter", "value.converter", "offset.storage.file.filename", "offset.flush.interval.ms", "listeners"} {
		if !strings.Contains(err.Error(), key+": ") {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	w, err := NewWorker("w.properties", map[string]string{"key.converter": "String", "value.converter": "String", "offset.storage.file.filename": "/x/offsets", "producer.linger.ms": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if w.FlushInterval.Milliseconds() != 60000 || w.Listeners[0] != "http://:8083" || w.DataDir != "/x/ferry-data" || w.Producer["linger.ms"] != "1" {
		t.Errorf("defaults: %+v", w)
	}
}

func TestParseConnector(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]string
		sink bool
		keys []string
	}{
		{map[string]string{"name": "a", "connector.class": "X"}, false, nil},
		{map[string]string{"connector.class": "X", "tasks.max": "0"}, false, []string{"name", "tasks.max"}},
		{map[string]string{"name": "a", "connector.class": "X"}, true, []string{"topics"}},
		{map[string]string{"name": "a", "tasks.max": "x", "topics": "t"}, true, []string{"connector.class", "tasks.max"}},
	} {
		_, errs := ParseConnector(tc.cfg, tc.sink)
		var keys []string
		for _, e := range errs {
			keys = append(keys, e.Key)
		}
		if !reflect.DeepEqual(keys, tc.keys) {
			t.Errorf("ParseConnector(%v) error keys = %v, want %v", tc.cfg, keys, tc.keys)
		}
	}
}

// Java line endings and escapes the parser got wrong: a lone "\r" ends a
// line in java.util.Properties (it was kept inside the value), a character
// beyond the BMP is written by Java as a \u surrogate pair (it became two
// U+FFFD), and a continuation line is never a comment (a line holding just
// "\" made the next line start afresh).
func TestParsePropertiesJavaLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc, in string
		want     map[string]string
	}{
		{"CR line ends", "a=1\rb=2\r", map[string]string{"a": "1", "b": "2"}},
		{"CRLF line ends", "a=1\r\nb=2\r\n", map[string]string{"a": "1", "b": "2"}},
		{"mixed, with a CR continuation", "a=x\\\r  y\r\n#c\rb=2", map[string]string{"a": "xy", "b": "2"}},
		{"surrogate pair", `emoji=\ud83d\ude00!`, map[string]string{"emoji": "\U0001F600!"}},
		{"lone surrogate", `s=\ud83dx`, map[string]string{"s": "\uFFFDx"}},
		{"surrogate then other escape", `s=\ud83d\u0041`, map[string]string{"s": "\uFFFDA"}},
		{"continuation of nothing", "\\\n#k=v\n", map[string]string{"#k": "v"}},
		{"continuation into a blank line", "\\\n\nk=v\n", map[string]string{"k": "v"}},
	} {
		got, err := ParseProperties([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.desc, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.desc, got, tc.want)
		}
	}
}

func TestParsePropertiesErrorNamesLine(t *testing.T) {
	t.Parallel()
	_, err := ParseProperties([]byte("a=1\n\nb=x\\\n  \\u12\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "line 3: key b: malformed \\u escape") {
		t.Errorf("error %v, want it to name line 3 and key b", err)
	}
}

// Bug: JSON connector files were decoded with numbers as float64, so
// 1000000 reached the connector as "1e+06" and 9007199254740993 lost its
// last digit; trailing data after the object was silently dropped.
func TestLoadConnectorJSONValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc, body string
		want       map[string]string
		err        string // a substring of the error, when one is expected
	}{
		{desc: "numbers keep their text",
			body: `{"name":"c","batch.size":1000000,"big":9007199254740993,"neg":-0.5,"exp":1E3,"long":123456789012345678901234567890}`,
			want: map[string]string{"name": "c", "batch.size": "1000000", "big": "9007199254740993", "neg": "-0.5", "exp": "1E3", "long": "123456789012345678901234567890"}},
		{desc: "wrapped numbers",
			body: `{"name":"c","config":{"tasks.max":2,"batch.size":1000000}}`,
			want: map[string]string{"name": "c", "tasks.max": "2", "batch.size": "1000000"}},
		{desc: "strings, booleans and null as before",
			body: `{"name":"c","s":"1e+06","t":true,"f":false,"gone":null}`,
			want: map[string]string{"name": "c", "s": "1e+06", "t": "true", "f": "false"}},
		{desc: "a numeric wrapped name", body: `{"name":7,"config":{}}`, want: map[string]string{"name": "7"}},
		{desc: "a byte order mark is skipped", body: "\ufeff{\"name\":\"c\"}", want: map[string]string{"name": "c"}},
		{desc: "trailing white space is fine", body: "{\"name\":\"c\"}\n\r\n\t ", want: map[string]string{"name": "c"}},
		{desc: "second document", body: "{\"name\":\"c\"}\n{\"name\":\"d\"}", err: "line 2, column 1: unexpected data after the JSON object"},
		{desc: "stray brace", body: `{"name":"c"}}`, err: "line 1, column 13: unexpected data after the JSON object"},
		{desc: "syntax error located", body: "{\n\"name\": \"c\",\n\"x\": tru\n}", err: "line 3, column"},
		{desc: "not an object", body: `["name"]`, err: "line 1, column"},
		{desc: "null", body: `null`, err: "expected a JSON object"},
		{desc: "empty", body: " \n", err: "empty file"},
		{desc: "nested value", body: `{"name":"c","b":{"x":1},"a":[1]}`, err: "key a, b: value must be a string, number or boolean"},
		{desc: "names differ", body: `{"name":"c","config":{"name":"d"}}`, err: `name "c" does not match config.name "d"`},
	} {
		path := filepath.Join(t.TempDir(), "c.json")
		if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := LoadConnector(path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("%s: error %v, want %s: ...%s...", tc.desc, err, path, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.desc, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.desc, got, tc.want)
		}
	}
}

// Bug: with two connector files defining the same name on the command
// line, the last silently replaced the first; Kafka Connect refuses to
// start.
func TestLoadConnectors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"a.properties":   "name=a\nconnector.class=FileStreamSource\n",
		"b.json":         `{"name":"b","config":{"connector.class":"FileStreamSink"}}`,
		"a2.json":        `{"name":"a","connector.class":"FileStreamSink"}`,
		"a3.properties":  "name = a \t\nconnector.class=X\n", // the same name once trimmed
		"bad.properties": "name=x\ny=\\u00\n",
		"noname.json":    `{"connector.class":"X"}`,
		"ctl.properties": "name=a\\u0007b\n",
		"dot.json":       `{"name":".."}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		desc  string
		files []string
		names []string // the configs' names, in order, when no error
		errs  []string // substrings of the error, in order
	}{
		{desc: "distinct", files: []string{"a.properties", "b.json"}, names: []string{"a", "b"}},
		{desc: "none", files: nil, names: nil},
		{desc: "duplicate across formats", files: []string{"a.properties", "b.json", "a2.json"},
			errs: []string{path("a2.json") + `: connector "a" is already defined in ` + path("a.properties")}},
		{desc: "duplicate after trimming", files: []string{"a.properties", "a3.properties"},
			errs: []string{path("a3.properties") + `: connector "a" is already defined in ` + path("a.properties")}},
		{desc: "same file twice", files: []string{"b.json", "b.json"},
			errs: []string{path("b.json") + `: connector "b" is already defined in ` + path("b.json")}},
		{desc: "every problem, each with its file", files: []string{"bad.properties", "noname.json", "missing.properties", "ctl.properties", "dot.json"},
			errs: []string{
				path("bad.properties") + ": line 2: key y: malformed",
				path("noname.json") + `: name: Missing required configuration "name"`,
				"read connector config: open " + path("missing.properties"),
				path("ctl.properties") + `: name: Invalid value "a\ab" for configuration name: String may not contain control sequences but had the following ASCII chars: 7`,
				path("dot.json") + ": name: Invalid value .. for configuration name",
			}},
	} {
		var paths []string
		for _, f := range tc.files {
			paths = append(paths, path(f))
		}
		cfgs, err := LoadConnectors(paths)
		if len(tc.errs) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.desc, err)
				continue
			}
			var names []string
			for _, c := range cfgs {
				names = append(names, c["name"])
			}
			if !reflect.DeepEqual(names, tc.names) {
				t.Errorf("%s: names %v, want %v", tc.desc, names, tc.names)
			}
			continue
		}
		if err == nil || cfgs != nil {
			t.Errorf("%s: configs %v, error %v; want an error", tc.desc, cfgs, err)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(tc.errs) {
			t.Errorf("%s: %d problems, want %d:\n%v", tc.desc, len(lines), len(tc.errs), err)
			continue
		}
		for i, want := range tc.errs {
			if !strings.HasPrefix(lines[i], want) {
				t.Errorf("%s: problem %d is\n%s\nwant it to start\n%s", tc.desc, i, lines[i], want)
			}
		}
	}
}
