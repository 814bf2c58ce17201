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
