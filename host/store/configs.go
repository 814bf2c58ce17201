package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/ferry-connect/ferry/host/offsets"
)

// Connector is what the config store holds for one connector.
type Connector struct {
	Config map[string]string
	Target TargetState
	// Tasks are the task configs the connector last produced; nil until
	// it has, and after it was stopped.
	Tasks []map[string]string
}

// FileConfigs is standalone mode's config store: connector configs and
// target states in a JSON file (rewritten atomically on every change),
// task configs in memory (a connector produces them again when it
// starts). It is safe for concurrent use.
type FileConfigs struct {
	path string

	mu         sync.Mutex // guards connectors and serialises writes
	connectors map[string]*Connector
}

// fileEntry is one connector in the file.
type fileEntry struct {
	Config map[string]string `json:"config"`
	Target string            `json:"target"`
}

// OpenFileConfigs loads the store at path; a missing file is an empty
// store.
func OpenFileConfigs(path string) (*FileConfigs, error) {
	s := &FileConfigs{path: path, connectors: map[string]*Connector{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read connector configs: %w", err)
	}
	var entries map[string]fileEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("connector configs %s: %w", path, err)
	}
	for name, e := range entries {
		target, ok := ParseTargetState(e.Target)
		if !ok {
			return nil, fmt.Errorf("connector configs %s: connector %s has target state %q", path, name, e.Target)
		}
		s.connectors[name] = &Connector{Config: e.Config, Target: target}
	}
	return s, nil
}

// Names returns the connectors' names, sorted.
func (s *FileConfigs) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.connectors))
}

// Get returns a copy of a connector's entry.
func (s *FileConfigs) Get(name string) (Connector, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.connectors[name]
	if !ok {
		return Connector{}, false
	}
	return *c, true
}

// Put stores a connector's config and target state; its task configs are
// dropped until it produces new ones.
func (s *FileConfigs) Put(name string, config map[string]string, target TargetState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.connectors[name]
	s.connectors[name] = &Connector{Config: config, Target: target}
	if err := s.write(); err != nil {
		if old != nil {
			s.connectors[name] = old
		} else {
			delete(s.connectors, name)
		}
		return err
	}
	return nil
}

// PutTarget changes a connector's target state; stopping it drops its
// task configs, as Kafka Connect writes empty ones.
func (s *FileConfigs) PutTarget(name string, target TargetState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.connectors[name]
	if !ok {
		return fmt.Errorf("connector %s has no config", name)
	}
	old := *c
	c.Target = target
	if target == Stopped {
		c.Tasks = nil
	}
	if err := s.write(); err != nil {
		*c = old
		return err
	}
	return nil
}

// PutTasks records the task configs a connector produced; a connector
// that has been removed meanwhile is ignored.
func (s *FileConfigs) PutTasks(name string, tasks []map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.connectors[name]; ok {
		c.Tasks = tasks
	}
}

// Remove deletes a connector.
func (s *FileConfigs) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.connectors[name]
	if !ok {
		return nil
	}
	delete(s.connectors, name)
	if err := s.write(); err != nil {
		s.connectors[name] = old
		return err
	}
	return nil
}

// write replaces the file with the connectors' configs and target states.
// The caller holds mu.
func (s *FileConfigs) write() error {
	entries := make(map[string]fileEntry, len(s.connectors))
	for name, c := range s.connectors {
		entries[name] = fileEntry{Config: c.Config, Target: string(c.Target)}
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return fmt.Errorf("encode connector configs: %w", err)
	}
	if err := offsets.WriteAtomic(s.path, b); err != nil {
		return fmt.Errorf("save connector configs: %w", err)
	}
	return nil
}
