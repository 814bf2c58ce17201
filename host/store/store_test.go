package store

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestFileConfigs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "connectors.json")
	s, err := OpenFileConfigs(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{"name": "a", "connector.class": "FileStreamSource"}
	if err := s.Put("a", cfg, Paused); err != nil {
		t.Fatal(err)
	}
	s.PutTasks("a", []map[string]string{{"task.class": "T"}})
	s.PutTasks("gone", []map[string]string{{}}) // removed meanwhile: ignored
	if err := s.Put("b", map[string]string{"name": "b"}, Started); err != nil {
		t.Fatal(err)
	}
	if got := s.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Names = %v", got)
	}
	if c, _ := s.Get("a"); len(c.Tasks) != 1 || c.Target != Paused {
		t.Errorf("a = %+v", c)
	}
	// Stopping drops the task configs, as Kafka Connect writes empty ones.
	if err := s.PutTarget("a", Stopped); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Get("a"); c.Tasks != nil || c.Target != Stopped {
		t.Errorf("stopped a = %+v", c)
	}
	if err := s.PutTarget("nope", Paused); err == nil {
		t.Error("PutTarget of an unknown connector succeeded")
	}
	if err := s.Remove("b"); err != nil {
		t.Fatal(err)
	}

	// Configs and target states survive a reopen; task configs do not.
	again, err := OpenFileConfigs(path)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := again.Get("a")
	if !ok || !reflect.DeepEqual(c.Config, cfg) || c.Target != Stopped || c.Tasks != nil {
		t.Errorf("reopened a = %+v, %v", c, ok)
	}
	if _, ok := again.Get("b"); ok {
		t.Error("removed b came back")
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("state file: %v, mode %v; want private", err, st.Mode())
	}
}

// v0 wrote the started target state as RUNNING.
func TestFileConfigsReadsV0(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "connectors.json")
	os.WriteFile(path, []byte(`{"a":{"config":{"name":"a"},"target":"RUNNING"},"b":{"config":{"name":"b"},"target":"PAUSED"}}`), 0o600)
	s, err := OpenFileConfigs(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Get("a"); a.Target != Started {
		t.Errorf("a's target = %q, want STARTED", a.Target)
	}
	os.WriteFile(path, []byte(`{"a":{"config":{"name":"a"},"target":"SLEEPING"}}`), 0o600)
	if _, err := OpenFileConfigs(path); err == nil {
		t.Error("an unknown target state was accepted")
	}
}

// A change the file cannot take is not kept in memory either.
func TestFileConfigsWriteFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := OpenFileConfigs(filepath.Join(dir, "sub", "connectors.json"))
	if err := s.Put("a", map[string]string{"name": "a"}, Started); err != nil {
		t.Fatal(err)
	}
	// Its directory replaced by a file: no write can succeed, even as root.
	os.RemoveAll(filepath.Join(dir, "sub"))
	os.WriteFile(filepath.Join(dir, "sub"), nil, 0o600)
	if err := s.Put("b", map[string]string{"name": "b"}, Started); err == nil {
		t.Fatal("Put succeeded though the file cannot be written")
	}
	if err := s.Remove("a"); err == nil {
		t.Fatal("Remove succeeded though the file cannot be written")
	}
	if _, ok := s.Get("a"); !ok {
		t.Error("a Remove that failed to save was applied")
	}
	if _, ok := s.Get("b"); ok {
		t.Error("a Put that failed to save was kept")
	}
}

func TestMemoryStatus(t *testing.T) {
	t.Parallel()
	s := NewMemoryStatus()
	if _, ok := s.Connector("a"); ok {
		t.Error("status of an unknown connector")
	}
	s.PutConnector("a", Status{State: StateRunning, WorkerID: "w"})
	s.PutTask("a", 2, Status{State: StateFailed, Trace: "boom"})
	tasks := s.Tasks("a")
	if len(tasks) != 3 || tasks[0].State != StateUnassigned || tasks[2].Trace != "boom" {
		t.Errorf("tasks = %+v", tasks)
	}
	tasks[0].State = "changed" // a copy
	s.TrimTasks("a", 1)
	if tasks := s.Tasks("a"); len(tasks) != 1 || tasks[0].State != StateUnassigned {
		t.Errorf("trimmed tasks = %+v", tasks)
	}
	s.Remove("a")
	if _, ok := s.Connector("a"); ok || len(s.Tasks("a")) != 0 {
		t.Error("removed connector still has statuses")
	}
}
