package store

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-connect/ferry/host/kafka"
)

func openStatus(t *testing.T, spec kafka.TopicSpec, logs *logBuffer) *KafkaStatus {
	t.Helper()
	s, err := OpenKafkaStatus(testCtx(t), testOptions(t, "worker", logs), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func running(worker string) Status {
	return Status{State: StateRunning, WorkerID: worker, Version: "1.0"}
}

// A worker sees its own writes at once, and a second worker sees them
// once they are written; the records carry the store's generation.
func TestKafkaStatusRoundTrip(t *testing.T) {
	t.Parallel()
	spec := testSpec(t, 5)
	a := openStatus(t, spec, nil)
	b := openStatus(t, spec, nil)
	a.SetGeneration(3)
	a.PutConnector("c", Status{State: StateRunning, WorkerID: "w1:8083", Generation: 99, Version: "1.0"})
	a.PutTask("c", 0, running("w1:8083"))
	a.PutTask("c", 2, Status{State: StateFailed, Trace: "boom", WorkerID: "w1:8083"})
	wantConnector := Status{State: StateRunning, WorkerID: "w1:8083", Generation: 3, Version: "1.0"}
	wantTasks := []Status{
		{State: StateRunning, WorkerID: "w1:8083", Generation: 3, Version: "1.0"},
		{State: StateUnassigned},
		{State: StateFailed, Trace: "boom", WorkerID: "w1:8083", Generation: 3},
	}
	if got, ok := a.Connector("c"); !ok || got != wantConnector {
		t.Errorf("Connector = %+v, %v; want %+v", got, ok, wantConnector)
	}
	if got := a.Tasks("c"); !reflect.DeepEqual(got, wantTasks) {
		t.Errorf("Tasks = %+v, want %+v", got, wantTasks)
	}
	if got, ok := a.Task("c", 2); !ok || got != wantTasks[2] {
		t.Errorf("Task 2 = %+v, %v", got, ok)
	}
	if _, ok := a.Task("c", 1); ok {
		t.Error("Task 1 found")
	}
	eventually(t, "the second worker has the statuses", func() bool {
		got, _ := b.Connector("c")
		return got == wantConnector && reflect.DeepEqual(b.Tasks("c"), wantTasks)
	})
	if got := lastValue(t, readRaw(t, spec), "status-connector-c"); got != `{"state":"RUNNING","trace":null,"worker_id":"w1:8083","generation":3,"version":"1.0"}` {
		t.Errorf("status-connector-c = %s", got)
	}
	// Once its own write is read back, the first worker sees the
	// second's.
	b.SetGeneration(4)
	b.PutConnector("c", Status{State: StatePaused, WorkerID: "w2:8083"})
	eventually(t, "the first worker has the second's status", func() bool {
		got, _ := a.Connector("c")
		return got == Status{State: StatePaused, WorkerID: "w2:8083", Generation: 4}
	})

	a.TrimTasks("c", 1)
	if got := a.Tasks("c"); !reflect.DeepEqual(got, wantTasks[:1]) {
		t.Errorf("after TrimTasks: Tasks = %+v", got)
	}
	eventually(t, "the second worker has the trimmed tasks", func() bool { return reflect.DeepEqual(b.Tasks("c"), wantTasks[:1]) })

	a.Remove("c")
	if _, ok := a.Connector("c"); ok || a.Tasks("c") != nil {
		t.Errorf("after Remove: %v, %v", ok, a.Tasks("c"))
	}
	eventually(t, "the second worker has the removal", func() bool {
		_, ok := b.Connector("c")
		return !ok && b.Tasks("c") == nil
	})
	recs := readRaw(t, spec)
	if lastValue(t, recs, "status-connector-c") != "NULL" || lastValue(t, recs, "status-task-c-0") != "NULL" || lastValue(t, recs, "status-task-c-2") != "NULL" {
		t.Error("no tombstones for the removed statuses")
	}
}

// FAILED and UNASSIGNED are safe writes: a worker that missed a rebalance
// does not overwrite what the worker of a newer generation wrote.
func TestKafkaStatusSafeWrites(t *testing.T) {
	t.Parallel()
	spec := testSpec(t, 5)
	w1 := openStatus(t, spec, nil)
	w2 := openStatus(t, spec, nil)
	w1.SetGeneration(3)
	w2.SetGeneration(5)
	w2.PutConnector("c", running("w2"))
	w2.PutTask("c", 0, running("w2"))
	eventually(t, "w1 has w2's statuses", func() bool {
		c, _ := w1.Connector("c")
		t0, _ := w1.Task("c", 0)
		return c.WorkerID == "w2" && t0.WorkerID == "w2"
	})
	w1.PutConnector("c", Status{State: StateFailed, Trace: "stale", WorkerID: "w1"}) // skipped
	w1.PutTask("c", 0, Status{State: StateUnassigned, WorkerID: "w1"})               // skipped
	w1.PutTask("c", 1, Status{State: StateUnassigned, WorkerID: "w1"})               // nothing there: written
	w1.PutTask("c", 2, running("w1"))                                                // not a safe write: written
	if c, _ := w1.Connector("c"); c.WorkerID != "w2" || c.State != StateRunning {
		t.Errorf("w1's stale FAILED was applied: %+v", c)
	}
	w1.Close() // flushes
	want := []Status{
		{State: StateRunning, WorkerID: "w2", Generation: 5, Version: "1.0"},
		{State: StateUnassigned, WorkerID: "w1", Generation: 3},
		{State: StateRunning, WorkerID: "w1", Generation: 3, Version: "1.0"},
	}
	eventually(t, "w2 has w1's writes", func() bool { return reflect.DeepEqual(w2.Tasks("c"), want) })
	// The same worker, or a newer generation, may overwrite.
	w2.PutTask("c", 1, Status{State: StateFailed, WorkerID: "w2"})
	w2.PutTask("c", 0, Status{State: StateFailed, WorkerID: "w2"})
	if got := w2.Tasks("c"); got[0].State != StateFailed || got[1].State != StateFailed {
		t.Errorf("w2's safe writes were skipped: %+v", got)
	}
	for _, r := range readRaw(t, spec) {
		if strings.Contains(string(r.Value), "stale") || string(r.Key) == "status-task-c-0" && strings.Contains(string(r.Value), `"w1"`) {
			t.Errorf("a stale write reached the topic: %s = %s", r.Key, r.Value)
		}
	}
}

// As Kafka Connect, a task's UNASSIGNED read from the topic does not
// replace a RUNNING of the same or a newer generation; a connector's
// tombstone forgets its tasks; records that do not decode are skipped.
func TestKafkaStatusReadsTopic(t *testing.T) {
	t.Parallel()
	spec := testSpec(t, 5)
	var logs logBuffer
	s := openStatus(t, spec, &logs)
	// d's task is in another partition than d: read it first.
	sendRaw(t, spec, "status-task-d-0", `{"state":"RUNNING","trace":null,"worker_id":"w2","generation":5,"version":null}`)
	if err := s.ReadToEnd(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	sendRaw(t, spec,
		"status-task-c-0", `{"state":"RUNNING","trace":null,"worker_id":"w2","generation":5,"version":null}`,
		"status-task-c-0", `{"state":"UNASSIGNED","trace":null,"worker_id":"w1","generation":5,"version":null}`,
		"status-task-c-1", `{"state":"RUNNING","trace":null,"worker_id":"w2","generation":5,"version":null}`,
		"status-task-c-1", `{"state":"UNASSIGNED","trace":null,"worker_id":"w1","generation":6,"version":null}`,
		"status-connector-d", `{"state":"RUNNING","trace":null,"worker_id":"w2","generation":5,"version":null}`,
		"status-connector-d", "NULL",
		"status-connector-e", `{"state":"BOGUS","trace":null,"worker_id":"w2","generation":5}`,
		"status-task-e-x", `{"state":"RUNNING","trace":null,"worker_id":"w2","generation":5}`,
		"something-else", `{}`,
		"status-topic-lines:connector-c", `{"topic":{"name":"lines","connector":"c","task":0,"discoverTimestamp":1}}`,
	)
	if err := s.ReadToEnd(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	want := []Status{{State: StateRunning, WorkerID: "w2", Generation: 5}, {State: StateUnassigned, WorkerID: "w1", Generation: 6}}
	if got := s.Tasks("c"); !reflect.DeepEqual(got, want) {
		t.Errorf("Tasks(c) = %+v, want %+v", got, want)
	}
	if got := s.Tasks("d"); got != nil {
		t.Errorf("Tasks(d) = %+v after the connector's tombstone", got)
	}
	if _, ok := s.Connector("e"); ok {
		t.Error("a record with a bad state was applied")
	}
	for _, key := range []string{"status-connector-e", "status-task-e-x", "something-else"} {
		if !strings.Contains(logs.String(), key) {
			t.Errorf("nothing logged for %q; log:\n%s", key, logs.String())
		}
	}
}

// Close sends what is queued before it returns; later writes are dropped.
func TestKafkaStatusCloseFlushes(t *testing.T) {
	t.Parallel()
	spec := testSpec(t, 5)
	a := openStatus(t, spec, nil)
	const n = 50
	for i := range n {
		a.PutTask("c", i, running("w1"))
	}
	start := time.Now()
	a.Close()
	if d := time.Since(start); d > statusFlushTimeout {
		t.Errorf("Close took %v", d)
	}
	a.PutTask("c", n, running("w1"))
	a.Close()
	b := openStatus(t, spec, nil)
	if got := len(b.Tasks("c")); got != n {
		t.Errorf("a worker opened after Close has %d task statuses, want %d", got, n)
	}
}

// The status topic of a Kafka Connect 4.1.1 cluster (testdata) reads as it
// ended: file-src and its task running, file-sink deleted.
func TestKafkaStatusReadsKafkaConnectTopic(t *testing.T) {
	t.Parallel()
	spec := testSpec(t, 5)
	sendGolden(t, spec, "connect-status")
	s := openStatus(t, spec, nil)
	want := Status{State: StateRunning, WorkerID: "127.0.0.1:18777", Generation: 8, Version: "4.1.1"}
	if got, ok := s.Connector("file-src"); !ok || got != want {
		t.Errorf("file-src = %+v, %v; want %+v", got, ok, want)
	}
	if got := s.Tasks("file-src"); !reflect.DeepEqual(got, []Status{want}) {
		t.Errorf("file-src tasks = %+v", got)
	}
	if got, ok := s.Connector("file-sink"); ok || s.Tasks("file-sink") != nil {
		t.Errorf("file-sink = %+v, %v, tasks %+v; want it deleted", got, ok, s.Tasks("file-sink"))
	}
}
