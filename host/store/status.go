package store

import "sync"

// MemoryStatus is standalone mode's status store: the statuses of the
// connectors and tasks this worker runs, in memory. It is safe for
// concurrent use.
type MemoryStatus struct {
	mu         sync.Mutex
	connectors map[string]Status
	tasks      map[string][]Status // by connector, indexed by task id
}

// NewMemoryStatus returns an empty status store.
func NewMemoryStatus() *MemoryStatus {
	return &MemoryStatus{connectors: map[string]Status{}, tasks: map[string][]Status{}}
}

// PutConnector records a connector's status.
func (s *MemoryStatus) PutConnector(name string, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connectors[name] = st
}

// PutTask records a task's status.
func (s *MemoryStatus) PutTask(connector string, task int, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tasks := s.tasks[connector]
	for len(tasks) <= task {
		tasks = append(tasks, Status{State: StateUnassigned})
	}
	tasks[task] = st
	s.tasks[connector] = tasks
}

// TrimTasks forgets the statuses of a connector's tasks from id n on:
// tasks it no longer has.
func (s *MemoryStatus) TrimTasks(connector string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tasks := s.tasks[connector]; len(tasks) > n {
		s.tasks[connector] = tasks[:n:n]
	}
}

// Connector returns a connector's status; ok is false if none was
// recorded.
func (s *MemoryStatus) Connector(name string) (st Status, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok = s.connectors[name]
	return st, ok
}

// Tasks returns a connector's task statuses by task id.
func (s *MemoryStatus) Tasks(connector string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.tasks[connector]...)
}

// Remove forgets a connector and its tasks.
func (s *MemoryStatus) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.connectors, name)
	delete(s.tasks, name)
}
