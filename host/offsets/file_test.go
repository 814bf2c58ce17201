package offsets

import (
	"path/filepath"
	"testing"
)

func TestFileStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connect.offsets")
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Get("a"); len(got) != 0 {
		t.Fatalf("empty store has %v", got)
	}
	p := []byte(`{"filename":"in.txt"}`)
	if err := s.Put("a", []Offset{{Partition: p, Offset: []byte(`{"position":10}`)}}); err != nil {
		t.Fatal(err)
	}
	s.Put("a", []Offset{{Partition: p, Offset: []byte(`{"position":20}`)}})
	s.Put("ab", []Offset{{Partition: p, Offset: []byte(`{"position":99}`)}})

	reopened, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := reopened.Get("a")
	if len(got) != 1 || string(got[0].Partition) != string(p) || string(got[0].Offset) != `{"position":20}` {
		t.Fatalf("Get(a) = %s", got)
	}
	if err := reopened.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if len(reopened.Get("a")) != 0 || len(reopened.Get("ab")) != 1 {
		t.Errorf("Delete(a) removed the wrong offsets")
	}
}

func TestCorruptFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connect.offsets")
	WriteAtomic(path, []byte("\xac\xed\x00\x05 java serialized"))
	if _, err := OpenFile(path); err == nil {
		t.Fatal("a corrupt offsets file was accepted")
	}
}

// Keys are Kafka Connect's bytes: the name quoted as Jackson quotes it
// (OffsetStorageWriter through JsonConverter; vectors from Kafka Connect
// 4.1.1 in host/store/testdata/kafka-records.txt), the partition as given.
func TestKeyIsKafkaConnects(t *testing.T) {
	for _, c := range []struct{ name, partition, want string }{
		{"file-src", `{"filename":"in.txt"}`, `["file-src",{"filename":"in.txt"}]`},
		{`<tag>&amp;`, `{}`, `["<tag>&amp;",{}]`},
		{"unit\x1fsep \U0001F600", `null`, `["unit\u001Fsep \uD83D\uDE00",null]`},
	} {
		if got := string(Key(c.name, []byte(c.partition))); got != c.want {
			t.Errorf("Key(%q, %s) = %s, want %s", c.name, c.partition, got, c.want)
		}
	}
}

// Regression: v0 built keys with encoding/json, which escapes & as \u0026
// where Kafka Connect writes &. A file written then still finds its
// offsets, under Kafka Connect's key.
func TestFileWithGoEscapedKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connect.offsets")
	old := `{"[\"a\\u0026b\",{\"f\":\"x\"}]":{"position":7},"not a key":{"position":1}}`
	if err := WriteAtomic(path, []byte(old)); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Get("a&b")
	if len(got) != 1 || string(got[0].Partition) != `{"f":"x"}` || string(got[0].Offset) != `{"position":7}` {
		t.Fatalf("Get(a&b) = %s", got)
	}
	if _, ok := s.data[`["a&b",{"f":"x"}]`]; !ok {
		t.Errorf("keys after loading: %v", s.data)
	}
	if _, ok := s.data["not a key"]; !ok {
		t.Errorf("a key that is not Kafka Connect's was dropped: %v", s.data)
	}
}
