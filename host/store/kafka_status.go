package store

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/kafka"
)

// How the status writer retries and how long Close waits for it.
const (
	statusRetryMin     = 100 * time.Millisecond
	statusRetryMax     = 10 * time.Second
	statusSendTimeout  = 30 * time.Second // one round of sends
	statusFlushTimeout = 5 * time.Second
)

// KafkaStatus is distributed mode's status store: the status of every
// connector and task of the cluster, in Kafka Connect's status topic
// (kafka-connect.md section 4.3), as Kafka Connect's
// KafkaStatusBackingStore keeps it.
//
// Put*, TrimTasks and Remove never wait for Kafka: they update the store's
// view at once (a caller reads its own writes) and queue the record, which
// one goroutine of the store sends, in order per key, retrying with backoff
// until it is written, superseded by a newer write of the same key, or
// stale (written for a generation before the current one). The view also
// follows the topic, so it shows what other workers write; a write of this
// store not yet read back from the topic stays in the view over older
// records of its key. Its methods are safe for concurrent use.
type KafkaStatus struct {
	log    *topicLog
	logger hclog.Logger

	mu         sync.Mutex // guards the fields below
	generation int32
	closing    bool
	connectors map[string]Status         // as last read from the topic
	tasks      map[string]map[int]Status // as last read from the topic, by connector and id
	pending    map[string]*statusWrite   // by key: writes not read back yet, shown over the topic's
	queue      []string                  // keys of unsent, oldest first
	unsent     map[string]*statusWrite   // by key: the latest write not sent yet

	wake        chan struct{} // cap 1: queue has writes
	flush       chan struct{} // closed by Close: send what is queued, then return
	sendCtx     context.Context
	cancelSends context.CancelFunc // called when Close stops waiting for the flush
	done        chan struct{}      // closed when the writer has returned
	closeOnce   sync.Once
}

// statusWrite is one queued record.
type statusWrite struct {
	key        string
	rec        StatusRecord
	value      []byte
	generation int32 // the store's generation when it was put
}

// OpenKafkaStatus opens the status topic (creating it if missing), reads
// it to its end, and follows it until Close; it starts the store's writer.
func OpenKafkaStatus(ctx context.Context, opts KafkaOptions, spec kafka.TopicSpec) (*KafkaStatus, error) {
	s := &KafkaStatus{
		logger:     opts.logger("statuses"),
		connectors: map[string]Status{},
		tasks:      map[string]map[int]Status{},
		pending:    map[string]*statusWrite{},
		unsent:     map[string]*statusWrite{},
		wake:       make(chan struct{}, 1),
		flush:      make(chan struct{}),
		done:       make(chan struct{}),
	}
	log, err := openTopicLog(ctx, opts, "statuses", spec, s.apply)
	if err != nil {
		return nil, err
	}
	s.log = log
	s.sendCtx, s.cancelSends = context.WithCancel(context.Background())
	go s.write()
	return s, nil
}

// apply reads one record of the topic, from the log's goroutine.
func (s *KafkaStatus) apply(rec kafka.LogRecord) {
	r, err := DecodeStatusRecord(string(rec.Key), rec.Value)
	if err != nil {
		s.logger.Error("skipping a status record", "partition", rec.Partition, "offset", rec.Offset, "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.pending[string(rec.Key)]; ok && w.rec.Tombstone == r.Tombstone && bytes.Equal(w.value, rec.Value) {
		delete(s.pending, w.key) // read back: the topic's view has it now
	}
	switch r.Kind {
	case StatusConnector:
		if r.Tombstone {
			// As Kafka Connect, a connector's tombstone forgets its
			// tasks too.
			delete(s.connectors, r.Connector)
			delete(s.tasks, r.Connector)
			return
		}
		s.connectors[r.Connector] = r.Status
	case StatusTask:
		tasks := s.tasks[r.Connector]
		if r.Tombstone {
			delete(tasks, r.Task)
			if len(tasks) == 0 {
				delete(s.tasks, r.Connector)
			}
			return
		}
		// A worker that missed a newer RUNNING of another worker
		// (during quick rebalances) may write UNASSIGNED for an older
		// or the same generation: the RUNNING stays. A worker's own
		// UNASSIGNED (it stopped the task) always applies.
		if cur, ok := tasks[r.Task]; ok && r.Status.State == StateUnassigned && cur.State == StateRunning &&
			cur.WorkerID != r.Status.WorkerID && cur.Generation >= r.Status.Generation {
			return
		}
		if tasks == nil {
			tasks = map[int]Status{}
			s.tasks[r.Connector] = tasks
		}
		tasks[r.Task] = r.Status
	case StatusTopic:
		// Topic statuses (KIP-558) are not kept yet.
	default:
		s.logger.Warn("skipping a status record of unknown key", "key", string(rec.Key))
	}
}

// SetGeneration sets the group generation that later writes carry. Queued
// writes of an older generation are dropped if they fail, not retried.
func (s *KafkaStatus) SetGeneration(g int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation = g
}

// PutConnector writes a connector's status, stamped with the store's
// generation (st.Generation is ignored). A FAILED or UNASSIGNED status is
// a safe write: it is dropped if the current status is another worker's of
// a higher generation (this worker missed a rebalance).
func (s *KafkaStatus) PutConnector(name string, st Status) {
	s.put(StatusRecord{Kind: StatusConnector, Connector: name, Status: st})
}

// PutTask writes a task's status, as PutConnector does a connector's.
func (s *KafkaStatus) PutTask(connector string, task int, st Status) {
	s.put(StatusRecord{Kind: StatusTask, Connector: connector, Task: task, Status: st})
}

// TrimTasks deletes the statuses of a connector's tasks from id n on:
// tasks it no longer has.
func (s *KafkaStatus) TrimTasks(connector string, n int) {
	s.mu.Lock()
	var recs []StatusRecord
	for id := range s.taskViewLocked(connector) {
		if id >= n {
			recs = append(recs, StatusRecord{Kind: StatusTask, Connector: connector, Task: id, Tombstone: true})
		}
	}
	s.mu.Unlock()
	s.put(recs...)
}

// Remove deletes the statuses of a connector and its tasks.
func (s *KafkaStatus) Remove(name string) {
	s.mu.Lock()
	recs := []StatusRecord{{Kind: StatusConnector, Connector: name, Tombstone: true}}
	for id := range s.taskViewLocked(name) {
		recs = append(recs, StatusRecord{Kind: StatusTask, Connector: name, Task: id, Tombstone: true})
	}
	s.mu.Unlock()
	s.put(recs...)
}

// put updates the view and queues recs, skipping unsafe writes.
func (s *KafkaStatus) put(recs ...StatusRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		s.logger.Warn("status store is closed: dropping status writes", "count", len(recs))
		return
	}
	for _, r := range recs {
		if !r.Tombstone {
			r.Status.Generation = s.generation
		}
		key, value, err := EncodeStatusRecord(r)
		if err != nil {
			s.logger.Error("dropping a status write", "error", err)
			continue
		}
		if r.Status.State == StateFailed || r.Status.State == StateUnassigned {
			if cur, ok := s.viewLocked(key, r); ok && cur.WorkerID != r.Status.WorkerID && cur.Generation > r.Status.Generation {
				s.logger.Debug("skipping a stale status write", "key", key, "state", r.Status.State, "generation", r.Status.Generation,
					"current_worker", cur.WorkerID, "current_generation", cur.Generation)
				continue
			}
		}
		w := &statusWrite{key: key, rec: r, value: value, generation: s.generation}
		s.pending[key] = w
		if _, ok := s.unsent[key]; !ok {
			s.queue = append(s.queue, key)
		}
		s.unsent[key] = w
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// viewLocked returns what the store knows of r's connector or task: its
// own write not read back yet, else the topic's. The caller holds mu.
func (s *KafkaStatus) viewLocked(key string, r StatusRecord) (Status, bool) {
	if w, ok := s.pending[key]; ok {
		return w.rec.Status, !w.rec.Tombstone
	}
	var st Status
	var ok bool
	switch r.Kind {
	case StatusConnector:
		st, ok = s.connectors[r.Connector]
	case StatusTask:
		st, ok = s.tasks[r.Connector][r.Task]
	}
	return st, ok
}

// taskViewLocked returns a connector's task statuses by id as the view
// has them. The caller holds mu.
func (s *KafkaStatus) taskViewLocked(connector string) map[int]Status {
	out := map[int]Status{}
	for id, st := range s.tasks[connector] {
		out[id] = st
	}
	for _, w := range s.pending {
		if w.rec.Kind != StatusTask || w.rec.Connector != connector {
			continue
		}
		if w.rec.Tombstone {
			delete(out, w.rec.Task)
		} else {
			out[w.rec.Task] = w.rec.Status
		}
	}
	return out
}

// Connector returns a connector's status; ok is false if there is none.
func (s *KafkaStatus) Connector(name string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewLocked(statusConnectorPrefix+name, StatusRecord{Kind: StatusConnector, Connector: name})
}

// Task returns a task's status; ok is false if there is none.
func (s *KafkaStatus) Task(connector string, task int) (Status, bool) {
	r := StatusRecord{Kind: StatusTask, Connector: connector, Task: task}
	key, err := r.key()
	if err != nil {
		return Status{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewLocked(key, r)
}

// Tasks returns a connector's task statuses by task id, UNASSIGNED for an
// id below the highest that has none.
func (s *KafkaStatus) Tasks(connector string) []Status {
	s.mu.Lock()
	view := s.taskViewLocked(connector)
	s.mu.Unlock()
	if len(view) == 0 {
		return nil
	}
	out := make([]Status, slices.Max(slices.Collect(maps.Keys(view)))+1)
	for i := range out {
		out[i] = Status{State: StateUnassigned}
	}
	for id, st := range view {
		out[id] = st
	}
	return out
}

// ReadToEnd waits until every record written to the topic before the call
// has been applied, or ctx ends.
func (s *KafkaStatus) ReadToEnd(ctx context.Context) error {
	return s.log.readToEnd(ctx)
}

// write is the store's writer: it sends queued writes in rounds (each key
// once a round, so a key's records keep their order) until Close.
func (s *KafkaStatus) write() {
	defer close(s.done)
	delay := statusRetryMin
	flushing := false
	for {
		batch := s.take()
		if len(batch) == 0 {
			// Close refuses new writes before it closes flush: once
			// flushing, an empty queue stays empty.
			if flushing {
				return
			}
			select {
			case <-s.wake:
			case <-s.flush:
				flushing = true
			case <-s.sendCtx.Done():
				return
			}
			continue
		}
		recs := make([]keyValue, len(batch))
		for i, w := range batch {
			recs[i] = keyValue{key: []byte(w.key), value: w.value}
		}
		ctx, cancel := context.WithTimeout(s.sendCtx, statusSendTimeout)
		errs, err := s.log.sendAll(ctx, recs)
		cancel()
		if err == nil {
			delay = statusRetryMin
			continue
		}
		retried := s.retry(batch, errs)
		if s.sendCtx.Err() == nil {
			s.logger.Warn("status writes failed; retrying", "count", retried, "delay", delay, "error", err)
			select {
			case <-time.After(delay):
			case <-s.sendCtx.Done():
			}
		}
		if s.sendCtx.Err() != nil {
			s.logger.Warn("status store closed before these status writes could be sent", "count", retried, "error", err)
			return
		}
		delay = min(2*delay, statusRetryMax)
	}
}

// take dequeues every unsent write.
func (s *KafkaStatus) take() []*statusWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := make([]*statusWrite, 0, len(s.queue))
	for _, key := range s.queue {
		batch = append(batch, s.unsent[key])
	}
	s.queue = s.queue[:0]
	clear(s.unsent)
	return batch
}

// retry queues again the writes of batch that failed, unless a newer write
// of their key is queued or they are of an older generation, and returns
// how many it queued. A write given up on leaves the view.
func (s *KafkaStatus) retry(batch []*statusWrite, errs []error) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var again []string
	for i, w := range batch {
		if errs[i] == nil {
			continue
		}
		if _, superseded := s.unsent[w.key]; superseded {
			continue
		}
		if w.generation != s.generation {
			if s.pending[w.key] == w {
				delete(s.pending, w.key)
			}
			continue
		}
		s.unsent[w.key] = w
		again = append(again, w.key)
	}
	s.queue = append(again, s.queue...)
	return len(again)
}

// Close sends the queued writes, waiting for them for a few seconds at
// most, then stops following the topic and closes its clients. Writes
// after Close are dropped. It is idempotent.
func (s *KafkaStatus) Close() {
	s.closeOnce.Do(func() {
		// 1. Refuse new writes, then tell the writer to send what is
		//    queued and return.
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		close(s.flush)
		// 2. Wait for it, for a few seconds; then cancel its sends
		//    (it logs what it could not write) and wait for it.
		t := time.NewTimer(statusFlushTimeout)
		select {
		case <-s.done:
		case <-t.C:
			s.cancelSends()
			<-s.done
		}
		t.Stop()
		s.cancelSends()
		// 3. Close the log.
		s.log.close()
	})
}
