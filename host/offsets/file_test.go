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
