package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/kafka"
)

// This file holds distributed mode's config store and what the three
// Kafka-backed stores (configs, statuses, offsets) share: their options
// and topicLog, the kafka.Log each of them reads and writes through.

// KafkaOptions are what the Kafka-backed stores are opened with.
type KafkaOptions struct {
	// Bootstrap is the cluster's bootstrap.servers.
	Bootstrap string
	// ClientID is the base of the stores' client ids, as Kafka Connect's
	// client.id: each store adds its purpose ("-configs", "-statuses",
	// "-offsets").
	ClientID string
	// Settings are client settings (security and the like) for every
	// client the stores make.
	Settings map[string]string
	// Log gets what the stores skip or cannot write (undecodable
	// records, failed status writes); nil discards it.
	Log hclog.Logger
}

func (o KafkaOptions) logger(name string) hclog.Logger {
	if o.Log == nil {
		return hclog.NewNullLogger()
	}
	return o.Log.Named(name)
}

// errClosed is returned by a store's methods after its Close.
var errClosed = errors.New("store is closed")

// topicLog is the kafka.Log under a store, shared by the store's callers:
// each use holds it open, and close first cancels the uses in flight (so
// that a caller's ctx without a deadline cannot hold Close up), waits for
// them, then closes the log. Uses after close fail with errClosed.
type topicLog struct {
	log    *kafka.Log
	topic  string
	ctx    context.Context // ends when close starts
	cancel context.CancelFunc

	mu     sync.RWMutex // held for reading by each use, for writing by close
	closed bool
}

// openTopicLog opens spec's topic for a store; purpose names the store in
// the client id ("configs").
func openTopicLog(ctx context.Context, opts KafkaOptions, purpose string, spec kafka.TopicSpec, onRecord func(kafka.LogRecord)) (*topicLog, error) {
	log, err := kafka.OpenLog(ctx, opts.Bootstrap, opts.ClientID+"-"+purpose, spec, opts.Settings, onRecord)
	if err != nil {
		return nil, fmt.Errorf("open %s topic: %w", purpose, err)
	}
	l := &topicLog{log: log, topic: spec.Name}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l, nil
}

// use runs f with the log and a ctx that ends with ctx or when close
// starts.
func (l *topicLog) use(ctx context.Context, f func(context.Context, *kafka.Log) error) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return fmt.Errorf("topic %s: %w", l.topic, errClosed)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(l.ctx, cancel)
	defer stop()
	return f(ctx, l.log)
}

// readToEnd waits until every record written before the call has been
// applied.
func (l *topicLog) readToEnd(ctx context.Context) error {
	return l.use(ctx, func(ctx context.Context, log *kafka.Log) error { return log.ReadToEnd(ctx) })
}

// keyValue is a record to write; a nil value is a tombstone.
type keyValue struct {
	key, value []byte
}

// sendAll writes recs concurrently (their keys must differ: records of one
// key must be sent one after the other to keep their order) and waits for
// every ack or ctx. errs[i] is recs[i]'s error, naming its key; err joins
// them (nil if all were written).
func (l *topicLog) sendAll(ctx context.Context, recs []keyValue) (errs []error, err error) {
	errs = make([]error, len(recs))
	sent := false
	err = l.use(ctx, func(ctx context.Context, log *kafka.Log) error {
		sent = true
		var wg sync.WaitGroup
		for i, r := range recs {
			wg.Go(func() {
				if err := log.Send(ctx, r.key, r.value); err != nil {
					errs[i] = fmt.Errorf("record %q: %w", r.key, err)
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if !sent {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs, err
}

// close cancels the uses in flight, waits for them and closes the log. It
// is idempotent.
func (l *topicLog) close() {
	l.cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.log.Close()
	}
}

// RestartRequest is a request to restart a connector (and maybe its
// tasks) that a worker wrote to the config topic (KIP-745).
type RestartRequest struct {
	Connector    string
	IncludeTasks bool
	OnlyFailed   bool
}

// KafkaConfigs is distributed mode's config store: connector configs,
// target states and task configs in Kafka Connect's config topic
// (kafka-connect.md section 4.1), read and applied as Kafka Connect's
// KafkaConfigBackingStore does, so that Ferry and Kafka Connect read each
// other's records:
//
//   - a connector-<name> record sets the connector's config, a tombstone
//     deletes the connector with its target state and task configs;
//   - task-<name>-<n> records wait for their commit-<name> record, which
//     applies them at once; if the commit's ids 0..n-1 are not all there
//     (compaction removed some), the connector is inconsistent and has no
//     tasks until a complete commit comes;
//   - a connector with no target-state-<name> record is STARTED;
//   - restart-connector-<name> records read after open reach Restarts;
//   - session-key, tasks-fencing and logger-cluster records are read and
//     ignored; records of unknown keys, and records that do not decode,
//     are logged and skipped.
//
// Writes go to the topic and return once the store has read the topic to
// its end, so Get reflects them. Its methods are safe for concurrent use.
type KafkaConfigs struct {
	log      *topicLog
	logger   hclog.Logger
	onChange func()

	// writing is a semaphore held through each write: the records of
	// one PutTasks must not interleave with another's for the same
	// connector, or the commit would apply a mix. A channel rather than
	// a mutex, so that waiting for it honours the caller's ctx.
	writing chan struct{}

	mu           sync.Mutex // guards the fields below
	started      bool       // the first read to the end is done
	offset       int64
	configs      map[string]map[string]string
	targets      map[string]TargetState // may precede the connector's config
	tasks        map[string][]map[string]string
	inconsistent map[string]bool
	deferred     map[string]map[int]map[string]string // task configs awaiting their commit

	// Restart requests go from the log's goroutine (which must not
	// block) through restartQueue to the forwarder goroutine, which
	// hands them to restarts in order.
	restartQueue  []RestartRequest
	restartSignal chan struct{} // cap 1: restartQueue has requests
	restarts      chan RestartRequest
	stop          chan struct{} // closed by Close: the forwarder returns
	done          chan struct{} // closed when the forwarder has returned
	closeOnce     sync.Once
}

// OpenKafkaConfigs opens the config topic (creating it if missing, with
// one partition: spec.SinglePartition is forced on, since the records'
// meaning depends on their order), reads it to its end, and follows it
// until Close. onChange, which may be nil, is called after each record
// read once Open has returned (from the log's goroutine: it must not block
// long), so that a herder can wake up and look.
func OpenKafkaConfigs(ctx context.Context, opts KafkaOptions, spec kafka.TopicSpec, onChange func()) (*KafkaConfigs, error) {
	s := &KafkaConfigs{
		logger:        opts.logger("configs"),
		onChange:      onChange,
		writing:       make(chan struct{}, 1),
		configs:       map[string]map[string]string{},
		targets:       map[string]TargetState{},
		tasks:         map[string][]map[string]string{},
		inconsistent:  map[string]bool{},
		deferred:      map[string]map[int]map[string]string{},
		restartSignal: make(chan struct{}, 1),
		restarts:      make(chan RestartRequest),
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
	}
	spec.SinglePartition = true
	log, err := openTopicLog(ctx, opts, "configs", spec, s.apply)
	if err != nil {
		return nil, err
	}
	s.log = log
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	go s.forwardRestarts()
	return s, nil
}

// apply reads one record of the topic, from the log's goroutine.
func (s *KafkaConfigs) apply(rec kafka.LogRecord) {
	r, err := DecodeConfigRecord(string(rec.Key), rec.Value)
	msg := ""
	s.mu.Lock()
	// The config offset counts every record that is JSON, known or not:
	// Kafka Connect moves it once its converter has read the value, before
	// looking at the key.
	if len(rec.Value) == 0 || err == nil && r.Kind != ConfigUnknown || isJSON(rec.Value) {
		s.offset = rec.Offset + 1
	}
	if err == nil {
		msg = s.applyLocked(r)
	}
	started := s.started
	s.mu.Unlock()
	switch {
	case err != nil:
		s.logger.Error("skipping a config record", "offset", rec.Offset, "error", err)
	case msg != "":
		s.logger.Error(msg, "key", string(rec.Key), "offset", rec.Offset)
	}
	if started && s.onChange != nil {
		s.onChange()
	}
}

// isJSON says whether b is one JSON value.
func isJSON(b []byte) bool {
	_, err := parseJSON(b)
	return err == nil
}

// applyLocked applies a decoded record; it returns why the record was
// skipped, or "". The caller holds mu.
func (s *KafkaConfigs) applyLocked(r ConfigRecord) string {
	switch r.Kind {
	case ConfigConnector:
		if r.Tombstone {
			s.dropTasks(r.Name)
			delete(s.configs, r.Name)
			delete(s.targets, r.Name)
			return ""
		}
		s.configs[r.Name] = r.Properties.Map()
	case ConfigTargetState:
		if r.Tombstone {
			delete(s.targets, r.Name) // no target state is STARTED
			return ""
		}
		s.targets[r.Name] = r.Target
	case ConfigTask:
		if r.Tombstone {
			return "skipping a task config tombstone"
		}
		if s.deferred[r.Name] == nil {
			s.deferred[r.Name] = map[int]map[string]string{}
		}
		s.deferred[r.Name][r.Task] = r.Properties.Map()
	case ConfigCommit:
		if _, ok := s.configs[r.Name]; !ok {
			// The connector was deleted before these task configs
			// were committed, and compaction has removed its config
			// and tombstone since.
			s.dropTasks(r.Name)
			return ""
		}
		if r.Tombstone {
			return "skipping a commit tombstone"
		}
		s.commit(r.Name, r.Tasks)
	case ConfigRestart:
		if r.Tombstone {
			return "skipping a restart request tombstone"
		}
		// Requests already in the topic at open were handled by the
		// cluster before this worker came.
		if s.started {
			s.restartQueue = append(s.restartQueue, RestartRequest{Connector: r.Name, IncludeTasks: r.IncludeTasks, OnlyFailed: r.OnlyFailed})
			select {
			case s.restartSignal <- struct{}{}:
			default:
			}
		}
	case ConfigSessionKey, ConfigTaskCount, ConfigLoggerLevel:
		// Ferry signs no internal requests, runs no exactly-once
		// sources and sets no cluster log levels yet.
	default:
		return "skipping a config record of unknown key"
	}
	return ""
}

// commit applies a connector's deferred task configs, if ids 0..n-1 are
// all there; it always drops them, so that the next commit needs a fresh
// set. The caller holds mu.
func (s *KafkaConfigs) commit(name string, n int) {
	deferred := s.deferred[name]
	delete(s.deferred, name)
	var tasks []map[string]string
	for id := range n {
		config, ok := deferred[id]
		if !ok {
			s.inconsistent[name] = true
			return
		}
		tasks = append(tasks, config)
	}
	s.tasks[name] = tasks
	delete(s.inconsistent, name)
}

// dropTasks forgets a connector's task configs, committed or not. The
// caller holds mu.
func (s *KafkaConfigs) dropTasks(name string) {
	delete(s.tasks, name)
	delete(s.deferred, name)
	delete(s.inconsistent, name)
}

// Names returns the connectors' names, sorted.
func (s *KafkaConfigs) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.configs))
}

// Get returns a copy of a connector's entry. Its Tasks are the committed
// task configs by id: nil if there are none, or if they are inconsistent.
func (s *KafkaConfigs) Get(name string) (Connector, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	config, ok := s.configs[name]
	if !ok {
		return Connector{}, false
	}
	c := Connector{Config: maps.Clone(config), Target: Started}
	if t, ok := s.targets[name]; ok {
		c.Target = t
	}
	if !s.inconsistent[name] {
		for _, t := range s.tasks[name] {
			c.Tasks = append(c.Tasks, maps.Clone(t))
		}
	}
	return c, true
}

// Inconsistent says whether a connector's last task commit named task
// configs the topic does not hold (as after compaction): the connector has
// no tasks until its task configs are written again.
func (s *KafkaConfigs) Inconsistent(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inconsistent[name]
}

// Offset returns the config offset: the offset after the last record read
// (Kafka Connect's ClusterConfigState.offset()), 0 for an empty topic.
// Workers compare it when they join the group.
func (s *KafkaConfigs) Offset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset
}

// ReadToEnd waits until every record written to the topic before the call
// has been applied, or ctx ends.
func (s *KafkaConfigs) ReadToEnd(ctx context.Context) error {
	return s.log.readToEnd(ctx)
}

// PutConnector writes a connector's config (its properties sorted by key).
func (s *KafkaConfigs) PutConnector(ctx context.Context, name string, config map[string]string) error {
	return s.write(ctx, ConfigRecord{Kind: ConfigConnector, Name: name, Properties: PropertiesOf(config)})
}

// PutTarget writes a connector's target state, as state.v2 and, for
// workers that know no STOPPED, state (STOPPED written as PAUSED).
// Stopping a connector also takes empty task configs, which the caller
// writes with PutTasks(ctx, name, nil).
func (s *KafkaConfigs) PutTarget(ctx context.Context, name string, target TargetState) error {
	return s.write(ctx, ConfigRecord{Kind: ConfigTargetState, Name: name, Target: target})
}

// RemoveConnector deletes a connector: tombstones for its config and its
// target state.
func (s *KafkaConfigs) RemoveConnector(ctx context.Context, name string) error {
	return s.write(ctx,
		ConfigRecord{Kind: ConfigConnector, Name: name, Tombstone: true},
		ConfigRecord{Kind: ConfigTargetState, Name: name, Tombstone: true})
}

// PutTasks writes a connector's task configs, task-<name>-<n> for each,
// then commit-<name>, which applies them. A task config's properties are
// written in the order Kafka Connect would write them (TaskConfigOrder,
// with task.class put by the worker).
func (s *KafkaConfigs) PutTasks(ctx context.Context, name string, configs []map[string]string) error {
	recs := make([]ConfigRecord, 0, len(configs)+1)
	for id, config := range configs {
		recs = append(recs, ConfigRecord{Kind: ConfigTask, Name: name, Task: id, Properties: taskProperties(config)})
	}
	recs = append(recs, ConfigRecord{Kind: ConfigCommit, Name: name, Tasks: len(configs)})
	return s.write(ctx, recs...)
}

// taskProperties orders a task config as Kafka Connect writes one: the
// connector's keys in HashMap order, then task.class put by the worker.
func taskProperties(config map[string]string) Properties {
	taskClass, ok := config["task.class"]
	if !ok {
		return TaskConfigOrder(PropertiesOf(config))
	}
	rest := maps.Clone(config)
	delete(rest, "task.class")
	return TaskConfigOrder(PropertiesOf(rest), Property{Key: "task.class", Value: taskClass})
}

// RequestRestart writes a request to restart a connector, and its tasks if
// includeTasks (only the failed ones if onlyFailed). Every worker's store,
// this one's too, delivers it on Restarts.
func (s *KafkaConfigs) RequestRestart(ctx context.Context, name string, includeTasks, onlyFailed bool) error {
	return s.write(ctx, ConfigRecord{Kind: ConfigRestart, Name: name, IncludeTasks: includeTasks, OnlyFailed: onlyFailed})
}

// write sends records one after the other, each once the previous one is
// acknowledged (so they keep their order), then reads the topic to its
// end. It fails without writing anything if a record does not encode.
func (s *KafkaConfigs) write(ctx context.Context, recs ...ConfigRecord) error {
	encoded := make([]keyValue, len(recs))
	for i, r := range recs {
		key, value, err := EncodeConfigRecord(r)
		if err != nil {
			return fmt.Errorf("config topic %s: %w", s.log.topic, err)
		}
		encoded[i] = keyValue{key: []byte(key), value: value}
	}
	select {
	case s.writing <- struct{}{}:
		defer func() { <-s.writing }()
	case <-ctx.Done():
		return fmt.Errorf("config topic %s: wait to write: %w", s.log.topic, ctx.Err())
	}
	return s.log.use(ctx, func(ctx context.Context, log *kafka.Log) error {
		for _, r := range encoded {
			if err := log.Send(ctx, r.key, r.value); err != nil {
				return fmt.Errorf("config record %q: %w", r.key, err)
			}
		}
		return log.ReadToEnd(ctx)
	})
}

// Restarts returns the restart requests read from the topic after Open, in
// the topic's order, including those this store wrote. None is dropped:
// they queue in memory until received. The channel is closed by Close.
func (s *KafkaConfigs) Restarts() <-chan RestartRequest {
	return s.restarts
}

// forwardRestarts hands queued restart requests to restarts until Close.
func (s *KafkaConfigs) forwardRestarts() {
	defer close(s.done)
	for {
		select {
		case <-s.restartSignal:
		case <-s.stop:
			return
		}
		for {
			s.mu.Lock()
			if len(s.restartQueue) == 0 {
				s.mu.Unlock()
				break
			}
			r := s.restartQueue[0]
			s.restartQueue = s.restartQueue[1:]
			s.mu.Unlock()
			select {
			case s.restarts <- r:
			case <-s.stop:
				return
			}
		}
	}
}

// Close stops following the topic and closes its clients; writes in flight
// fail. Restarts' channel is closed. It is idempotent.
func (s *KafkaConfigs) Close() {
	s.closeOnce.Do(func() {
		// 1. Cancel the writes and reads in flight and close the log:
		//    no record is applied after this.
		s.log.close()
		// 2. Stop the forwarder, the only sender on restarts, then
		//    close restarts so that a range over it ends.
		close(s.stop)
		<-s.done
		close(s.restarts)
	})
}
