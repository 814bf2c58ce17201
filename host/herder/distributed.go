package herder

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/assign"
	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/host/store"
	"github.com/ferry-connect/ferry/host/worker"
)

// Forwarder sends a write to the leader's REST API (at url), as a
// follower of a distributed group must: only the leader writes the config
// topic. Errors the leader answers come back as *RemoteError.
type Forwarder interface {
	Create(ctx context.Context, url string, cfg map[string]string, target store.TargetState) (*Info, error)
	Put(ctx context.Context, url, name string, cfg map[string]string) (*Info, bool, error)
	Delete(ctx context.Context, url, name string) error
	SetTarget(ctx context.Context, url, name string, target store.TargetState) error
	Restart(ctx context.Context, url, name string, includeTasks, onlyFailed bool) (*Status, error)
	PutTaskConfigs(ctx context.Context, url, name string, configs []map[string]string) error
}

// RemoteError is an error another worker answered a forwarded request
// with; the REST API answers with the same status code and message.
type RemoteError struct {
	Code int
	Msg  string
}

func (e *RemoteError) Error() string { return e.Msg }

// ErrRebalancing answers a write while the group has no leader known to
// this worker (409, as Kafka Connect's RebalanceNeededException).
var ErrRebalancing = errors.New("Cannot complete request because of a conflicting operation (e.g. worker rebalance)")

// DistributedOptions are what a distributed herder is built from.
type DistributedOptions struct {
	Configs  *store.KafkaConfigs
	Statuses *store.KafkaStatus
	Worker   *worker.Worker
	Catalog  *plugin.Catalog
	Launch   *plugin.Launcher
	Member   *kafka.GroupMember
	Forward  Forwarder
	// ConfigChanges wakes the herder when the config topic changes: the
	// config store's onChange sends on it without blocking (see
	// Notify).
	ConfigChanges chan struct{}
	// ConfigTopic names the config topic, for errors.
	ConfigTopic string
	// WorkerID is this worker's id (host:port) and URL its REST API's,
	// where peers forward requests.
	WorkerID string
	URL      string
	// Protocol is connect.protocol: eager, compatible or sessioned.
	Protocol string
	// Heartbeat is heartbeat.interval.ms; MaxDelay
	// scheduled.rebalance.max.delay.ms; SyncTimeout
	// worker.sync.timeout.ms; UnsyncBackoff worker.unsync.backoff.ms.
	Heartbeat     time.Duration
	MaxDelay      time.Duration
	SyncTimeout   time.Duration
	UnsyncBackoff time.Duration
	Log           hclog.Logger
}

// Distributed is the herder of a distributed worker: configs, target
// states and task configs live in the config topic, statuses in the status
// topic, and the workers of one group share the connectors and tasks as
// the group's leader assigns them. Reads are answered from this worker's
// copy of the topics; writes are made by the leader, to which a follower
// forwards them. Its methods are safe for concurrent use.
type Distributed struct {
	opts DistributedOptions
	plugins
	coop *assign.Cooperative
	// locks serialises the leader's writes to one connector.
	locks nameLocks

	// running are the connectors this worker has given to its worker,
	// and seen those its config topic has held; only the membership
	// loop uses them.
	running map[string]worker.Spec
	seen    map[string]bool

	mu sync.Mutex // guards the fields below
	// leaderURL is the REST URL of the leader of the last assignment;
	// empty before the first.
	leaderURL string
	leader    bool
	// owned is what the group assigned this worker.
	owned ownedWork
	// assigned is the configured work the last assignment this worker
	// made as leader knew of: connector names and task counts.
	assigned map[string]int
	// reports are task configs this worker's connectors produced, not
	// yet written or forwarded to the leader, by connector.
	reports map[string][]map[string]string

	// joined is closed once the worker has its first assignment: writes
	// wait for it, to know whom to forward them to.
	joined     chan struct{}
	joinedOnce sync.Once
	// reported tells the report writer that a connector produced task
	// configs.
	reported chan struct{}
}

// ownedWork is what of the group's work this worker runs.
type ownedWork struct {
	connectors map[string]bool
	tasks      map[kafka.TaskID]bool
}

// NewDistributed makes a distributed herder; Run joins the group.
func NewDistributed(opts DistributedOptions) (*Distributed, error) {
	coop, err := assign.NewCooperative(opts.MaxDelay)
	if err != nil {
		return nil, fmt.Errorf("scheduled.rebalance.max.delay.ms: %w", err)
	}
	return &Distributed{
		opts: opts, plugins: plugins{catalog: opts.Catalog, launch: opts.Launch, log: opts.Log}, coop: coop,
		owned:   ownedWork{connectors: map[string]bool{}, tasks: map[kafka.TaskID]bool{}},
		running: map[string]worker.Spec{}, seen: map[string]bool{}, reports: map[string][]map[string]string{},
		reported: make(chan struct{}, 1), joined: make(chan struct{}),
	}, nil
}

// Notify sends on a wake-up channel (buffered, 1) without blocking: a
// wake-up already pending covers this one.
func Notify(c chan struct{}) { notify(c) }

// TaskConfigs takes the task configs one of this worker's connectors
// produced; the leader stores them if they changed.
func (h *Distributed) TaskConfigs(name string, configs []map[string]string) {
	h.mu.Lock()
	h.reports[name] = configs
	h.mu.Unlock()
	notify(h.reported)
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run is the worker's membership of the group: it joins, applies what
// the leader assigns (and, when it leads, assigns), heartbeats, and
// follows the config topic, until ctx ends; then it stops this worker's
// connectors and leaves the group.
func (h *Distributed) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.writeReports(ctx)
	}()
	defer wg.Wait()
	defer h.leave()
	lastGeneration := -1
	for ctx.Err() == nil {
		gen, delay, err := h.rebalance(ctx, lastGeneration)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			h.opts.Log.Warn("rebalance failed; joining again", "error", err)
			if sleepCtx(ctx, time.Second) != nil {
				break
			}
			continue
		}
		lastGeneration = gen
		if delay < 0 {
			continue // revoked work is free: the next round assigns it
		}
		if err := h.member(ctx, delay); err != nil && ctx.Err() == nil {
			h.opts.Log.Info("rejoining the group", "reason", err)
		}
	}
}

// leave stops everything this worker runs, then leaves the group, so its
// work moves at once.
func (h *Distributed) leave() {
	h.opts.Worker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.opts.Member.Leave(ctx); err != nil {
		h.opts.Log.Warn("leave group", "error", err)
	}
}

// errRejoin ends a member's tenure in a generation: it joins again.
var errRejoin = errors.New("rejoin")

// member heartbeats and follows config changes until the worker must
// join again (a rebalance, a change in the set of connectors or tasks, a
// scheduled delay that expired) or ctx ends.
func (h *Distributed) member(ctx context.Context, delay time.Duration) error {
	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()
	var rejoin <-chan time.Time
	if delay > 0 {
		rejoin = time.After(delay)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rejoin:
			return fmt.Errorf("%w: scheduled rebalance", errRejoin)
		case <-heartbeat.C:
			if err := h.opts.Member.Heartbeat(ctx); err != nil {
				return err
			}
		case <-h.opts.ConfigChanges:
			if h.apply() {
				return fmt.Errorf("%w: connectors or tasks changed", errRejoin)
			}
		case r := <-h.opts.Configs.Restarts():
			h.restart(r)
		}
	}
}

// rebalance joins the group, assigns if it leads, and applies what it is
// assigned; it returns the generation and how long to wait before the
// next rebalance (0: none scheduled; negative: at once).
func (h *Distributed) rebalance(ctx context.Context, lastGeneration int) (int, time.Duration, error) {
	eager := h.opts.Protocol == "eager"
	if eager {
		// Eager: everything stops before the worker joins.
		h.setOwned(ownedWork{connectors: map[string]bool{}, tasks: map[kafka.TaskID]bool{}})
		h.apply()
	}
	jr, err := h.opts.Member.Join(ctx, h.protocols())
	if err != nil {
		return 0, 0, err
	}
	var assignments map[string][]byte
	if jr.Leader() {
		if assignments, err = h.assign(ctx, jr, lastGeneration); err != nil {
			return 0, 0, err
		}
	}
	b, err := h.opts.Member.Sync(ctx, assignments)
	if err != nil {
		return 0, 0, err
	}
	a, err := kafka.DecodeAssignment(b)
	if err != nil {
		return 0, 0, fmt.Errorf("assignment from the leader: %w", err)
	}
	h.opts.Statuses.SetGeneration(jr.Generation)
	if a.Error == kafka.AssignmentConfigMismatch {
		h.opts.Log.Info("the leader could not read the config topic as far as a member; reading it and joining again")
		if err := h.syncConfigs(ctx); err != nil {
			return 0, 0, err
		}
		return int(jr.Generation), -1, errRejoin
	}
	if h.opts.Configs.Offset() < a.ConfigOffset {
		if err := h.syncConfigs(ctx); err != nil || h.opts.Configs.Offset() < a.ConfigOffset {
			h.opts.Log.Error("cannot read the config topic as far as the leader; leaving the group for worker.unsync.backoff.ms (if the config topic is not behind, the workers of this group use different config.storage.topic settings: every worker of a group must use the same internal topics)",
				"config.storage.topic", h.opts.ConfigTopic, "offset", h.opts.Configs.Offset(), "leader.offset", a.ConfigOffset, "backoff", h.opts.UnsyncBackoff, "error", err)
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			h.opts.Member.Leave(lctx)
			cancel()
			return 0, 0, errors.Join(sleepCtx(ctx, h.opts.UnsyncBackoff), errors.New("config topic out of sync"))
		}
	}
	defer h.joinedOnce.Do(func() { close(h.joined) })
	h.mu.Lock()
	h.leader = a.Leader == jr.MemberID
	h.leaderURL = a.LeaderURL
	owned := ownedWork{connectors: maps.Clone(h.owned.connectors), tasks: maps.Clone(h.owned.tasks)}
	h.mu.Unlock()
	if eager {
		owned = ownedWork{connectors: map[string]bool{}, tasks: map[kafka.TaskID]bool{}}
	}
	for _, c := range a.RevokedConnectors {
		delete(owned.connectors, c)
	}
	for _, t := range a.RevokedTasks {
		delete(owned.tasks, t)
	}
	for _, c := range a.Connectors {
		owned.connectors[c] = true
	}
	for _, t := range a.Tasks {
		owned.tasks[t] = true
	}
	h.setOwned(owned)
	h.opts.Log.Info("assignment", "generation", jr.Generation, "leader", a.Leader == jr.MemberID, "connectors", len(owned.connectors), "tasks", len(owned.tasks),
		"assigned", len(a.Connectors)+len(a.Tasks), "revoked", len(a.RevokedConnectors)+len(a.RevokedTasks), "delay.ms", a.Delay)
	h.apply()
	switch {
	case len(a.RevokedConnectors)+len(a.RevokedTasks) > 0 && a.Delay == 0:
		// What was revoked is free: the next round assigns it.
		return int(jr.Generation), -1, nil
	case a.Delay > 0:
		return int(jr.Generation), time.Duration(a.Delay) * time.Millisecond, nil
	}
	return int(jr.Generation), 0, nil
}

func (h *Distributed) setOwned(o ownedWork) {
	h.mu.Lock()
	h.owned = o
	h.mu.Unlock()
}

// syncConfigs reads the config topic to its end, for at most
// worker.sync.timeout.ms.
func (h *Distributed) syncConfigs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.opts.SyncTimeout)
	defer cancel()
	return h.opts.Configs.ReadToEnd(ctx)
}

// protocols are the group protocols this worker offers, with its state:
// its URL, how far it read the config topic and what it runs.
func (h *Distributed) protocols() []kafka.GroupProtocol {
	h.mu.Lock()
	owned := &kafka.ConnectAssignment{Version: 1}
	for c := range h.owned.connectors {
		owned.Connectors = append(owned.Connectors, c)
	}
	for t := range h.owned.tasks {
		owned.Tasks = append(owned.Tasks, t)
	}
	h.mu.Unlock()
	slices.Sort(owned.Connectors)
	slices.SortFunc(owned.Tasks, func(a, b kafka.TaskID) int {
		return cmp.Or(strings.Compare(a.Connector, b.Connector), cmp.Compare(a.Task, b.Task))
	})
	offset := h.opts.Configs.Offset()
	eager := kafka.GroupProtocol{Name: kafka.ProtocolEager, Metadata: kafka.EncodeSubscription(kafka.WorkerState{Version: 0, URL: h.opts.URL, ConfigOffset: offset})}
	compatible := kafka.GroupProtocol{Name: kafka.ProtocolCompatible, Metadata: kafka.EncodeSubscription(kafka.WorkerState{Version: 1, URL: h.opts.URL, ConfigOffset: offset, Assignment: owned})}
	switch h.opts.Protocol {
	case "eager":
		return []kafka.GroupProtocol{eager}
	case "compatible":
		return []kafka.GroupProtocol{compatible, eager}
	}
	// Sessioned needs the session key and request signing of KIP-507,
	// which Ferry does not have yet: it offers compatible first.
	return []kafka.GroupProtocol{compatible, eager}
}

// assign is the leader's work in a rebalance: every member's assignment.
func (h *Distributed) assign(ctx context.Context, jr kafka.JoinResult, lastGeneration int) (map[string][]byte, error) {
	states := map[string]kafka.WorkerState{}
	var maxOffset int64
	for _, m := range jr.Members {
		st, err := kafka.DecodeSubscription(m.Metadata)
		if err != nil {
			// A member that is not a Connect worker of this version: it
			// gets nothing, rather than work it may not run.
			h.opts.Log.Warn("group member with an unreadable subscription gets no work", "member", m.ID, "error", err)
			continue
		}
		states[m.ID] = st
		maxOffset = max(maxOffset, st.ConfigOffset)
	}
	version := int16(1)
	if jr.Protocol == kafka.ProtocolEager {
		version = 0
	}
	out := map[string][]byte{}
	if h.opts.Configs.Offset() < maxOffset {
		if err := h.syncConfigs(ctx); err != nil || h.opts.Configs.Offset() < maxOffset {
			h.opts.Log.Warn("cannot read the config topic as far as a member did; sending CONFIG_MISMATCH", "offset", h.opts.Configs.Offset(), "member.offset", maxOffset, "error", err)
			for id := range states {
				out[id] = kafka.EncodeAssignment(kafka.ConnectAssignment{Version: version, Error: kafka.AssignmentConfigMismatch, Leader: jr.MemberID, LeaderURL: h.opts.URL, ConfigOffset: h.opts.Configs.Offset()})
			}
			return out, nil
		}
	}
	offset := h.opts.Configs.Offset()
	round := assign.Round{Connectors: map[string]int{}, Members: map[string]assign.Work{}, Generation: int(jr.Generation), LastGeneration: lastGeneration, Now: time.Now()}
	for _, name := range h.opts.Configs.Names() {
		c, _ := h.opts.Configs.Get(name)
		round.Connectors[name] = len(c.Tasks)
	}
	for id, st := range states {
		var w assign.Work
		if st.Assignment != nil {
			w.Connectors = st.Assignment.Connectors
			for _, t := range st.Assignment.Tasks {
				w.Tasks = append(w.Tasks, assign.Task{Connector: t.Connector, ID: int(t.Task)})
			}
		}
		round.Members[id] = w
	}
	h.mu.Lock()
	h.assigned = round.Connectors
	h.mu.Unlock()
	var result map[string]assign.Assignment
	if version == 0 {
		result = assign.Eager(round)
	} else {
		result = h.coop.Assign(round)
	}
	for id, a := range result {
		ca := kafka.ConnectAssignment{Version: version, Leader: jr.MemberID, LeaderURL: h.opts.URL, ConfigOffset: offset,
			Connectors: a.Assigned.Connectors, Tasks: taskIDs(a.Assigned.Tasks),
			RevokedConnectors: a.Revoked.Connectors, RevokedTasks: taskIDs(a.Revoked.Tasks), Delay: int32(a.Delay.Milliseconds())}
		out[id] = kafka.EncodeAssignment(ca)
	}
	return out, nil
}

func taskIDs(ts []assign.Task) []kafka.TaskID {
	out := make([]kafka.TaskID, len(ts))
	for i, t := range ts {
		out[i] = kafka.TaskID{Connector: t.Connector, Task: int32(t.ID)}
	}
	return out
}

// apply has the worker run what this worker owns, with the configs the
// config topic holds now, and stops what it no longer owns. It reports
// whether the set of connectors or tasks in the config topic differs from
// what the group's assignment knows of: then the group must rebalance.
func (h *Distributed) apply() (rebalance bool) {
	h.mu.Lock()
	owned := h.owned
	h.mu.Unlock()
	names := map[string]bool{}
	for c := range owned.connectors {
		names[c] = true
	}
	for t := range owned.tasks {
		names[t.Connector] = true
	}
	for _, name := range h.opts.Configs.Names() {
		h.seen[name] = true
	}
	specs := map[string]worker.Spec{}
	foreign := map[string]bool{}
	for name := range names {
		c, ok := h.opts.Configs.Get(name)
		if !ok {
			if !h.seen[name] {
				// Not deleted: never there. The leader reads another
				// config topic than this worker.
				foreign[name] = true
				h.opts.Log.Error("the leader assigned a connector this worker's config.storage.topic has never held: do the workers of this group use different config.storage.topic settings? Every worker of a group must use the same internal topics; this worker runs none of it",
					"connector", name, "config.storage.topic", h.opts.ConfigTopic)
			}
			continue
		}
		class, parsed, err := h.resolve(c.Config)
		if err != nil {
			h.failOwned(name, owned, err)
			continue
		}
		spec := worker.Spec{Connector: parsed, Class: class, Target: c.Target, RunConnector: owned.connectors[name], Tasks: map[int]map[string]string{}}
		for t := range owned.tasks {
			if t.Connector == name && int(t.Task) < len(c.Tasks) {
				spec.Tasks[int(t.Task)] = c.Tasks[t.Task]
			}
		}
		specs[name] = spec
	}
	// No lock held: stopping a connector waits for it, and it may be
	// handing its task configs to TaskConfigs meanwhile.
	for name := range h.running {
		if _, ok := specs[name]; !ok {
			h.opts.Worker.Stop(name)
			delete(h.running, name)
			if _, exists := h.opts.Configs.Get(name); !exists {
				// Deleted: its statuses go too (Kafka Connect writes
				// them as tombstones).
				h.opts.Statuses.Remove(name)
			}
		}
	}
	for name, spec := range specs {
		if old, ok := h.running[name]; ok && sameSpec(old, spec) {
			continue
		}
		if err := h.opts.Worker.Assign(spec); err != nil {
			h.opts.Log.Error("cannot run connector", "connector", name, "error", err)
			continue
		}
		h.running[name] = spec
	}
	// A rebalance is due when the configured work is not what was
	// assigned: a connector created or deleted, a task count changed.
	// Only the assignment says what the group knows; comparing with what
	// this worker owns is enough for what it owns, and the leader checks
	// the rest.
	for c := range owned.connectors {
		if _, ok := h.opts.Configs.Get(c); !ok && !foreign[c] {
			return true
		}
	}
	for t := range owned.tasks {
		if c, ok := h.opts.Configs.Get(t.Connector); (!ok && !foreign[t.Connector]) || (ok && int(t.Task) >= len(c.Tasks)) {
			return true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.leader && h.unassignedWork()
}

// unassignedWork reports, for the leader, whether the config topic holds
// other connectors or task counts than its last assignment knew of. The
// caller holds mu.
func (h *Distributed) unassignedWork() bool {
	names := h.opts.Configs.Names()
	if len(names) != len(h.assigned) {
		return true
	}
	for _, name := range names {
		c, _ := h.opts.Configs.Get(name)
		if n, ok := h.assigned[name]; !ok || n != len(c.Tasks) {
			return true
		}
	}
	return false
}

func sameSpec(a, b worker.Spec) bool {
	return a.Target == b.Target && a.Class == b.Class && a.RunConnector == b.RunConnector &&
		maps.Equal(a.Connector.Raw, b.Connector.Raw) &&
		maps.EqualFunc(a.Tasks, b.Tasks, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

// failOwned reports what this worker owns of a connector FAILED with err.
func (h *Distributed) failOwned(name string, owned ownedWork, err error) {
	st := store.Status{State: store.StateFailed, Trace: err.Error(), WorkerID: h.opts.WorkerID}
	if owned.connectors[name] {
		h.opts.Statuses.PutConnector(name, st)
	}
	for t := range owned.tasks {
		if t.Connector == name {
			h.opts.Statuses.PutTask(name, int(t.Task), st)
		}
	}
}

// restart restarts what this worker runs of a connector, as a restart
// request in the config topic asks.
func (h *Distributed) restart(r store.RestartRequest) {
	spec, ok := h.running[r.Connector]
	if !ok {
		return
	}
	if r.OnlyFailed && !h.failedHere(spec, r.IncludeTasks) {
		return
	}
	h.opts.Log.Info("restarting connector as requested", "connector", r.Connector, "include.tasks", r.IncludeTasks, "only.failed", r.OnlyFailed)
	if err := h.opts.Worker.Start(spec); err != nil {
		h.opts.Log.Error("restart connector", "connector", r.Connector, "error", err)
	}
}

func (h *Distributed) failedHere(spec worker.Spec, includeTasks bool) bool {
	name := spec.Connector.Name
	if st, ok := h.opts.Statuses.Connector(name); spec.RunConnector && ok && st.State == store.StateFailed {
		return true
	}
	if !includeTasks {
		return false
	}
	for id := range spec.Tasks {
		if st, ok := h.opts.Statuses.Task(name, id); ok && st.State == store.StateFailed {
			return true
		}
	}
	return false
}

// writeReports hands the task configs this worker's connectors produce to
// the leader (itself, or over REST), retrying until they are taken or ctx
// ends.
func (h *Distributed) writeReports(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.reported:
		}
		for {
			h.mu.Lock()
			name, configs, ok := "", []map[string]string(nil), false
			for n, c := range h.reports {
				name, configs, ok = n, c, true
				delete(h.reports, n)
				break
			}
			h.mu.Unlock()
			if !ok {
				break
			}
			if err := h.PutTaskConfigs(ctx, name, configs); err != nil {
				if ctx.Err() != nil {
					return
				}
				h.opts.Log.Warn("cannot hand task configs to the leader; retrying", "connector", name, "error", err)
				h.mu.Lock()
				if _, newer := h.reports[name]; !newer {
					h.reports[name] = configs
				}
				h.mu.Unlock()
				if sleepCtx(ctx, 250*time.Millisecond) != nil {
					return
				}
			}
		}
	}
}

// PutTaskConfigs stores the task configs a connector produced, if they
// differ from those stored; a follower forwards them to the leader.
func (h *Distributed) PutTaskConfigs(ctx context.Context, name string, configs []map[string]string) error {
	return h.write(ctx, name, func(url string) error { return h.opts.Forward.PutTaskConfigs(ctx, url, name, configs) }, func(c store.Connector) error {
		if c.Target == store.Stopped {
			// A stopped connector has no tasks; these are its last words.
			return nil
		}
		if c.Tasks != nil && slices.EqualFunc(c.Tasks, configs, func(a, b map[string]string) bool { return maps.Equal(a, b) }) {
			return nil
		}
		return h.opts.Configs.PutTasks(ctx, name, configs)
	})
}

// write runs a write to an existing connector: on the leader, under the
// name's lock, with the connector's entry; a follower forwards it to the
// leader instead.
func (h *Distributed) write(ctx context.Context, name string, forwardTo func(url string) error, write func(store.Connector) error) error {
	if leader, url := h.leadership(ctx); !leader {
		_, err := forward(ctx, url, func() (struct{}, error) { return struct{}{}, forwardTo(url) })
		return err
	}
	if err := h.locks.lock(ctx, name); err != nil {
		return err
	}
	defer h.locks.unlock(name)
	c, ok := h.opts.Configs.Get(name)
	if !ok {
		return notFound(name)
	}
	return write(c)
}

// joinWait bounds how long a write waits for the worker's first
// assignment, as Kafka Connect's requests wait for its herder's tick.
const joinWait = 30 * time.Second

// leadership says whether this worker leads, and where the leader is;
// before the worker's first assignment it waits for it (up to joinWait).
func (h *Distributed) leadership(ctx context.Context) (bool, string) {
	t := time.NewTimer(joinWait)
	defer t.Stop()
	select {
	case <-h.joined:
	case <-ctx.Done():
	case <-t.C:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.leader, h.leaderURL
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Names lists connectors, sorted.
func (h *Distributed) Names() []string { return h.opts.Configs.Names() }

// Get returns a connector's info.
func (h *Distributed) Get(name string) (*Info, error) {
	c, ok := h.opts.Configs.Get(name)
	if !ok {
		return nil, notFound(name)
	}
	return &Info{Name: name, Config: c.Config, Tasks: len(c.Tasks), Type: h.typeOf(c.Config)}, nil
}

// Status returns a connector's status, as the status topic has it: each
// task's status comes from the worker that runs it.
func (h *Distributed) Status(name string) (*Status, error) {
	c, ok := h.opts.Configs.Get(name)
	if !ok {
		return nil, notFound(name)
	}
	st, ok := h.opts.Statuses.Connector(name)
	if !ok {
		st = store.Status{State: store.StateUnassigned}
	}
	out := &Status{Name: name, Connector: stateOf(st), Type: h.typeOf(c.Config)}
	for id := range c.Tasks {
		t, ok := h.opts.Statuses.Task(name, id)
		if !ok {
			t = store.Status{State: store.StateUnassigned}
		}
		out.Tasks = append(out.Tasks, stateOf(t))
	}
	return out, nil
}

// Tasks returns a connector's task configs.
func (h *Distributed) Tasks(name string) ([]TaskInfo, error) {
	c, ok := h.opts.Configs.Get(name)
	if !ok {
		return nil, notFound(name)
	}
	out := make([]TaskInfo, len(c.Tasks))
	for i, tc := range c.Tasks {
		out[i] = TaskInfo{Connector: name, Task: i, Config: tc}
	}
	return out, nil
}

// Create validates a connector config and stores it with its target
// state; the worker the group assigns it to runs it.
func (h *Distributed) Create(ctx context.Context, cfg map[string]string, target store.TargetState) (*Info, error) {
	if leader, url := h.leadership(ctx); !leader {
		return forward(ctx, url, func() (*Info, error) { return h.opts.Forward.Create(ctx, url, cfg, target) })
	}
	return createNew(ctx, &h.plugins, &h.locks, h.opts.Configs, cfg, func(_ *plugin.Class, parsed *config.Connector) (*Info, error) {
		return h.store(ctx, parsed, target)
	})
}

// store writes a connector's config (with its target state first, when
// not STARTED, so that it never starts by mistake). The caller holds the
// name's lock and leads.
func (h *Distributed) store(ctx context.Context, parsed *config.Connector, target store.TargetState) (*Info, error) {
	if target != store.Started {
		if err := h.opts.Configs.PutTarget(ctx, parsed.Name, target); err != nil {
			return nil, err
		}
	}
	if err := h.opts.Configs.PutConnector(ctx, parsed.Name, parsed.Raw); err != nil {
		return nil, err
	}
	return h.Get(parsed.Name)
}

// Put creates or replaces a connector's config.
func (h *Distributed) Put(ctx context.Context, name string, cfg map[string]string) (*Info, bool, error) {
	if cfg["name"] == "" {
		cfg["name"] = name
	}
	if cfg["name"] != name {
		return nil, false, &BadRequestError{Msg: fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", cfg["name"], name)}
	}
	if leader, url := h.leadership(ctx); !leader {
		var created bool
		info, err := forward(ctx, url, func() (info *Info, err error) {
			info, created, err = h.opts.Forward.Put(ctx, url, name, cfg)
			return info, err
		})
		return info, created, err
	}
	if err := h.locks.lock(ctx, name); err != nil {
		return nil, false, err
	}
	defer h.locks.unlock(name)
	old, exists := h.opts.Configs.Get(name)
	if exists && maps.Equal(old.Config, cfg) {
		info, err := h.Get(name)
		return info, false, err
	}
	_, parsed, err := h.Validate(ctx, cfg)
	if err != nil {
		return nil, false, err
	}
	if err := h.opts.Configs.PutConnector(ctx, name, parsed.Raw); err != nil {
		return nil, false, err
	}
	info, err := h.Get(name)
	return info, !exists, err
}

// Delete removes a connector: every worker stops what it runs of it.
func (h *Distributed) Delete(ctx context.Context, name string) error {
	return h.write(ctx, name, func(url string) error { return h.opts.Forward.Delete(ctx, url, name) }, func(store.Connector) error {
		if err := h.opts.Configs.RemoveConnector(ctx, name); err != nil {
			return err
		}
		h.opts.Statuses.Remove(name)
		return nil
	})
}

// SetTarget pauses, resumes (Started) or stops a connector; a stopped
// connector's task configs are emptied, as Kafka Connect does.
func (h *Distributed) SetTarget(ctx context.Context, name string, target store.TargetState) error {
	return h.write(ctx, name, func(url string) error { return h.opts.Forward.SetTarget(ctx, url, name, target) }, func(c store.Connector) error {
		if c.Target == target {
			return nil
		}
		if err := h.opts.Configs.PutTarget(ctx, name, target); err != nil {
			return err
		}
		if target == store.Stopped {
			return h.opts.Configs.PutTasks(ctx, name, nil)
		}
		return nil
	})
}

// Restart asks the workers that run a connector to restart it (and, with
// includeTasks, its tasks), through a restart request in the config
// topic.
func (h *Distributed) Restart(ctx context.Context, name string, includeTasks, onlyFailed bool) (*Status, error) {
	if leader, url := h.leadership(ctx); !leader {
		return forward(ctx, url, func() (*Status, error) { return h.opts.Forward.Restart(ctx, url, name, includeTasks, onlyFailed) })
	}
	if _, ok := h.opts.Configs.Get(name); !ok {
		return nil, notFound(name)
	}
	if err := h.opts.Configs.RequestRestart(ctx, name, includeTasks, onlyFailed); err != nil {
		return nil, err
	}
	return h.Status(name)
}

// forward runs f, the forwarding of a write to the leader at url, or
// answers ErrRebalancing when no leader is known or the request was
// forwarded already: at most one hop, so that workers that disagree on
// who leads never pass a request around.
func forward[T any](ctx context.Context, url string, f func() (T, error)) (T, error) {
	if url == "" || IsForwarded(ctx) {
		var zero T
		return zero, ErrRebalancing
	}
	return f()
}

type forwardedKey struct{}

// IsForwarded reports whether ctx is a request another worker forwarded.
func IsForwarded(ctx context.Context) bool { return ctx.Value(forwardedKey{}) != nil }

// Forwarded marks ctx as a request another worker forwarded here.
func Forwarded(ctx context.Context) context.Context {
	return context.WithValue(ctx, forwardedKey{}, true)
}

// Interface guards.
var _ Herder = (*Distributed)(nil)
