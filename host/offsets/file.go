// Package offsets stores source connectors' offsets. In standalone mode
// they live in one local file, rewritten atomically on every commit.
package offsets

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ferry-connect/ferry/internal/jackson"
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
	var data map[string]json.RawMessage
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("offsets file %s is not Ferry's offsets JSON: %w", path, err)
	}
	for k, v := range data {
		s.data[rekey(k)] = v
	}
	return s, nil
}

// Key returns Kafka Connect's key for a source partition's offset:
// ["<connector>",<partition>], the JSON array OffsetStorageWriter
// serialises, with the connector's name quoted as Jackson quotes it and
// partition (the partition map's JSON) copied as is. It is the key of the
// offsets topic and of the offsets file, so that the two hold the same
// bytes.
func Key(connector string, partition []byte) []byte {
	b := make([]byte, 0, len(connector)+len(partition)+8)
	b = append(b, '[')
	b = jackson.AppendString(b, connector)
	b = append(b, ',')
	b = append(b, partition...)
	return append(b, ']')
}

// keyPrefix is the start every Key of connector shares.
func keyPrefix(connector string) string {
	k := Key(connector, nil)
	return string(k[:len(k)-1])
}

// rekey rebuilds k with Key. Files written before Key quoted names as
// Jackson does (Go's JSON encoder escapes <, > and & and writes lower-case
// hex) keep working; a key that is not ["name",partition] stays as it is.
func rekey(k string) string {
	var parts []json.RawMessage
	var name string
	if json.Unmarshal([]byte(k), &parts) != nil || len(parts) != 2 || json.Unmarshal(parts[0], &name) != nil {
		return k
	}
	return string(Key(name, parts[1]))
}

// Get returns every stored offset of connector.
func (s *FileStore) Get(connector string) []Offset {
	prefix := keyPrefix(connector)
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
		s.data[string(Key(connector, o.Partition))] = json.RawMessage(o.Offset)
	}
	return s.write()
}

// ReadToEnd does nothing: the file holds every offset the store wrote, and
// no one else writes it.
func (s *FileStore) ReadToEnd(context.Context) error { return nil }

// Delete removes every offset of connector.
func (s *FileStore) Delete(connector string) error {
	prefix := keyPrefix(connector)
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
