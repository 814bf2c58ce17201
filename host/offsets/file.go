// Package offsets stores source connectors' offsets. In standalone mode
// they live in one local file, rewritten atomically on every commit.
package offsets

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Offset is one source partition's offset, both as the JSON bytes the
// plugin sent.
type Offset struct {
	Partition []byte
	Offset    []byte
}

// FileStore keeps offsets in a JSON file: an object whose keys are Kafka
// Connect's offset keys (["<connector>",{partition}]) and whose values are
// the offset objects. It is safe for concurrent use.
type FileStore struct {
	path string

	mu   sync.Mutex // guards data and serialises writes
	data map[string]json.RawMessage
}

// OpenFile loads the store at path; a missing file is an empty store.
func OpenFile(path string) (*FileStore, error) {
	s := &FileStore{path: path, data: map[string]json.RawMessage{}}
	b, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read offsets %s: %w", path, err)
	case len(b) == 0:
		return s, nil
	}
	if err := json.Unmarshal(b, &s.data); err != nil {
		return nil, fmt.Errorf("offsets file %s is not Ferry's offsets JSON: %w", path, err)
	}
	return s, nil
}

func key(connector string, partition []byte) string {
	name, _ := json.Marshal(connector)
	return "[" + string(name) + "," + string(partition) + "]"
}

// Get returns every stored offset of connector.
func (s *FileStore) Get(connector string) []Offset {
	prefix := key(connector, nil)
	prefix = prefix[:len(prefix)-1]
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Offset
	for k, v := range s.data {
		if strings.HasPrefix(k, prefix) {
			out = append(out, Offset{Partition: []byte(k[len(prefix) : len(k)-1]), Offset: v})
		}
	}
	return out
}

// Put stores offsets for connector and returns once they are on disk.
func (s *FileStore) Put(connector string, offs []Offset) error {
	if len(offs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range offs {
		s.data[key(connector, o.Partition)] = json.RawMessage(o.Offset)
	}
	return s.write()
}

// Delete removes every offset of connector.
func (s *FileStore) Delete(connector string) error {
	prefix := key(connector, nil)
	prefix = prefix[:len(prefix)-1]
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.data {
		if strings.HasPrefix(k, prefix) {
			delete(s.data, k)
		}
	}
	return s.write()
}

// write replaces the file atomically: a crash leaves the old or the new
// offsets, never a torn file.
func (s *FileStore) write() error {
	b, err := json.Marshal(s.data)
	if err != nil {
		return fmt.Errorf("encode offsets: %w", err)
	}
	return WriteAtomic(s.path, b)
}

// WriteAtomic writes data to path through a synced temporary file and a
// rename, then syncs the directory.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
