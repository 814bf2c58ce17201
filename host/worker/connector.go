package worker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/convert"
	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/host/store"
	"github.com/ferry-connect/ferry/host/task"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// connector is what of one connector runs on this worker, and its
// supervisor: one plugin process holding the connector instance, if this
// worker runs it, and the tasks this worker runs. The supervisor goroutine
// is started by start and joined by stop; assign changes what it runs
// without a restart.
type connector struct {
	w      *Worker
	name   string
	config map[string]string
	parsed *config.Connector
	class  *plugin.Class
	target store.TargetState
	log    hclog.Logger

	mu     sync.Mutex // guards want, cancel and done
	want   share
	cancel context.CancelFunc
	done   chan struct{}
	// wake tells the supervisor that want changed.
	wake chan struct{}
}

// share is what of a connector runs on this worker.
type share struct {
	connector bool
	tasks     map[int]map[string]string
	// follow runs every task the connector produces (standalone mode).
	follow bool
}

func (w *Worker) newConnector(spec Spec) *connector {
	name := spec.Connector.Name
	return &connector{
		w: w, name: name, config: spec.Connector.Raw, parsed: spec.Connector, class: spec.Class, target: spec.Target,
		want: shareOf(spec), wake: make(chan struct{}, 1), log: w.opts.Log.Named(name).With("connector", name),
	}
}

func shareOf(spec Spec) share {
	return share{connector: spec.RunConnector, tasks: maps.Clone(spec.Tasks), follow: spec.FollowConnector}
}

// sameRun says whether spec can be run by this connector in place: the
// same config, class and target.
func (c *connector) sameRun(spec Spec) bool {
	return c.target == spec.Target && c.class.Binary == spec.Class.Binary && c.class.Spec.Class == spec.Class.Spec.Class &&
		maps.Equal(c.config, spec.Connector.Raw)
}

// assign changes what of the connector runs here; the supervisor starts
// and stops the difference.
func (c *connector) assign(spec Spec) {
	c.mu.Lock()
	old := c.want
	c.want = shareOf(spec)
	if c.want.follow {
		// Standalone: the tasks are the connector's to say.
		c.want.tasks = old.tasks
	}
	c.mu.Unlock()
	if c.target != store.Started {
		// Nothing runs: only the statuses change.
		c.stateOfIdle()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// gaveUp reports whether the supervisor of a started connector has ended
// on its own: its restarts are spent.
func (c *connector) gaveUp() bool {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if c.target != store.Started || done == nil {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func (c *connector) share() share {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.want
}

func (c *connector) sink() bool { return c.class.Spec.Kind == pb.PluginKind_PLUGIN_KIND_SINK }

// setState reports state (with trace) for the connector, if it runs here,
// and each of the tasks that run here.
func (c *connector) setState(state, trace string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.status(state, trace)
	if c.want.connector {
		c.w.opts.Statuses.PutConnector(c.name, st)
	}
	for id := range c.want.tasks {
		c.w.opts.Statuses.PutTask(c.name, id, st)
	}
}

func (c *connector) status(state, trace string) store.Status {
	st := store.Status{State: state, Trace: trace, WorkerID: c.w.opts.ID}
	if state == store.StateRunning {
		st.Version = c.class.PluginVersion
	}
	return st
}

// produced takes the task configs the connector produced: in standalone
// mode they are the tasks to run; they are reported to
// Options.TaskConfigs either way.
func (c *connector) produced(configs []map[string]string) {
	c.mu.Lock()
	if c.want.follow {
		c.want.tasks = make(map[int]map[string]string, len(configs))
		for i, tc := range configs {
			c.want.tasks[i] = tc
		}
		c.w.opts.Statuses.TrimTasks(c.name, len(configs))
	}
	c.mu.Unlock()
	c.w.opts.TaskConfigs(c.name, configs)
}

// stateOfIdle reports the statuses of a paused or stopped connector.
func (c *connector) stateOfIdle() {
	if c.target == store.Stopped {
		if c.share().follow {
			c.produced(nil)
		}
		c.setState(store.StateStopped, "")
		return
	}
	c.setState(store.StatePaused, "")
}

// start launches the supervisor for the target state; a paused or
// stopped connector has none.
func (c *connector) start() {
	c.mu.Lock()
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	c.mu.Unlock()
	if c.target != store.Started {
		c.stateOfIdle()
		close(c.done)
		return
	}
	c.setState(store.StateUnassigned, "")
	c.w.wg.Add(1)
	go func() {
		defer c.w.wg.Done()
		defer close(c.done)
		c.supervise(ctx)
	}()
}

// stop stops the supervisor gracefully and waits for it.
func (c *connector) stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// supervise runs the connector until ctx is cancelled, restarting its
// plugin process with exponential backoff when it or a task fails.
func (c *connector) supervise(ctx context.Context) {
	policy := c.w.opts.Config
	backoff := policy.RestartBackoff
	failures := 0
	for {
		started := time.Now()
		// failed reports a run's failure in the status as soon as it is
		// known, before the run has stopped its tasks; it says whether
		// the restart budget is spent.
		var giveUp, reported bool
		failed := func(err error) {
			reported = true
			if time.Since(started) > time.Minute {
				failures, backoff = 0, policy.RestartBackoff
			}
			failures++
			if giveUp = failures > policy.RestartAttempts; giveUp {
				c.log.Error("connector failed; restart budget spent", "restarts", failures-1, "error", err)
				c.setState(store.StateFailed, err.Error())
				return
			}
			c.log.Warn("connector failed; restarting", "attempt", failures, "backoff", backoff, "error", err)
			c.setState(store.StateRestarting, err.Error())
		}
		err := c.runOnce(ctx, failed)
		if ctx.Err() != nil {
			c.setState(store.StateUnassigned, "")
			return
		}
		if !reported {
			failed(err)
		}
		if giveUp {
			return
		}
		select {
		case <-ctx.Done():
			c.setState(store.StateUnassigned, "")
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, policy.MaxRestartBackoff)
	}
}

// Bounds on the calls into a plugin outside its task streams.
const (
	pluginStartTimeout = 30 * time.Second // launch and handshake
	callTimeout        = time.Minute      // a connector's start, its task configs
	stopCallTimeout    = 2 * time.Second  // a connector's stop
)

// call makes a unary call into proc, bounded by callTimeout; a failure
// because the plugin died or hung reports that.
func call[T any](ctx context.Context, proc *plugin.Process, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		err = proc.CallErr(err)
	}
	return v, err
}

// run is one plugin process of a connector and what runs in it. Only the
// supervisor's goroutine uses it.
type run struct {
	c    *connector
	proc *plugin.Process
	// callCtx ends calls when the run is over, or the plugin dies or
	// hangs.
	callCtx context.Context
	// instance is the connector instance's event stream; nil when it
	// does not run here.
	instance *instance
	tasks    map[int]*runningTask
	// exits carries tasks' failures.
	exits chan error
}

// instance is a running connector instance.
type instance struct {
	requests <-chan *pb.ConnectorEvent
	cancel   context.CancelFunc // ends its event stream
}

// runningTask is one task of a run.
type runningTask struct {
	config map[string]string
	cancel context.CancelFunc
	done   chan struct{}
}

// runOnce launches the plugin and runs what of the connector runs here,
// following changes, until ctx is cancelled (nil) or something fails: a
// task, the connector, or the plugin process (it exits, or leaves health
// checks unanswered for ferry.plugin.heartbeat.timeout.ms). It returns
// once the plugin process is gone, in bounded time (see stopTasks). A
// failure is handed to failed as soon as it is known.
func (c *connector) runOnce(ctx context.Context, failed func(error)) error {
	proc, err := c.w.opts.Launch.Launch(ctx, c.class.Binary, c.name, c.log, pluginStartTimeout)
	if err != nil {
		return err
	}
	defer proc.Kill()
	callCtx, cancelCalls := proc.Context(ctx)
	defer cancelCalls()
	r := &run{c: c, proc: proc, callCtx: callCtx, tasks: map[int]*runningTask{}, exits: make(chan error)}
	failure := r.loop(ctx)
	if failure != nil {
		failed(failure)
	}
	if err := r.stopTasks(slices.Collect(maps.Keys(r.tasks))); err == nil && r.instance != nil {
		r.stopConnector()
	}
	return failure
}

// loop keeps the run in line with the connector's share until ctx ends
// (nil) or something fails.
func (r *run) loop(ctx context.Context) error {
	for {
		if err := r.reconcile(); err != nil {
			return err
		}
		var requests <-chan *pb.ConnectorEvent
		if r.instance != nil {
			requests = r.instance.requests
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-r.exits:
			return err
		case <-r.proc.Done():
			return r.proc.Err()
		case ev := <-requests:
			if msg := ev.GetError(); msg != "" {
				return fmt.Errorf("connector raised an error: %s", msg)
			}
			configs, err := r.c.fetchTaskConfigs(r.callCtx, r.proc)
			if err != nil {
				return err
			}
			r.c.produced(configs)
		case <-r.c.wake:
		}
	}
}

// reconcile starts and stops the connector instance and tasks so that the
// run holds the connector's share: a task whose config changed restarts,
// the others are left alone.
func (r *run) reconcile() error {
	c := r.c
	want := c.share()
	switch {
	case want.connector && r.instance == nil:
		if err := r.startConnector(); err != nil {
			return err
		}
		want = c.share() // standalone: the tasks it produced
	case !want.connector && r.instance != nil:
		if err := r.stopConnector(); err != nil {
			return err
		}
		c.w.opts.Statuses.PutConnector(c.name, c.status(store.StateUnassigned, ""))
	}
	var gone []int
	for id, t := range r.tasks {
		cfg, ok := want.tasks[id]
		switch {
		case !ok:
			gone = append(gone, id)
		case !maps.Equal(cfg, t.config):
			c.log.Info("task config changed; restarting the task", "task", id)
			gone = append(gone, id)
		}
	}
	if err := r.stopTasks(gone); err != nil {
		return err
	}
	for _, id := range gone {
		if _, ok := want.tasks[id]; !ok && !want.follow {
			c.w.opts.Statuses.PutTask(c.name, id, c.status(store.StateUnassigned, ""))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want.tasks)) {
		if _, ok := r.tasks[id]; !ok {
			r.startTask(id, want.tasks[id])
		}
	}
	return nil
}

// startConnector starts the connector instance and reports the task
// configs it produces.
func (r *run) startConnector() error {
	c := r.c
	if _, err := call(r.callCtx, r.proc, func(ctx context.Context) (*pb.StartResponse, error) {
		return r.proc.Connector.Start(ctx, &pb.StartRequest{Class: c.class.Spec.Class, Config: c.config})
	}); err != nil {
		return fmt.Errorf("start connector: %w", err)
	}
	configs, err := c.fetchTaskConfigs(r.callCtx, r.proc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.callCtx)
	events, err := r.proc.Connector.Events(ctx, &pb.EventsRequest{})
	if err != nil {
		cancel()
		return fmt.Errorf("connector events: %w", r.proc.CallErr(err))
	}
	// The event reader ends with the stream (the connector stops, the
	// process dies, or ctx ends).
	requests := make(chan *pb.ConnectorEvent)
	go func() {
		for {
			ev, err := events.Recv()
			if err != nil {
				return
			}
			select {
			case requests <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	r.instance = &instance{requests: requests, cancel: cancel}
	c.produced(configs)
	c.w.opts.Statuses.PutConnector(c.name, c.status(store.StateRunning, ""))
	c.log.Info("connector running", "tasks", len(configs), "plugin", c.class.PluginName, "version", c.class.PluginVersion)
	return nil
}

// stopConnector stops the connector instance; one that does not stop
// kills the plugin.
func (r *run) stopConnector() error {
	r.instance.cancel()
	r.instance = nil
	if r.proc.Err() != nil {
		return r.proc.Err()
	}
	ctx, cancel := r.proc.Context(context.Background())
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, stopCallTimeout)
	defer cancelTimeout()
	if _, err := r.proc.Connector.Stop(ctx, &pb.StopRequest{}); err != nil {
		// Hung or dying: no point in a graceful shutdown of the process.
		err = r.proc.CallErr(err)
		r.c.log.Warn("stop connector", "error", err)
		r.proc.Abort(fmt.Errorf("%w: killed when its connector did not stop: %v", plugin.ErrExited, err))
		return fmt.Errorf("stop connector: %w", err)
	}
	return nil
}

// startTask starts a task; its failure reaches r.exits.
func (r *run) startTask(id int, cfg map[string]string) {
	ctx, cancel := context.WithCancel(context.Background())
	t := &runningTask{config: cfg, cancel: cancel, done: make(chan struct{})}
	r.tasks[id] = t
	c := r.c
	c.w.opts.Statuses.PutTask(c.name, id, c.status(store.StateRunning, ""))
	c.log.Info("task started", "task", id)
	go func() {
		defer close(t.done)
		if err := c.runTask(ctx, r.proc, int32(id), cfg); err != nil {
			select {
			case r.exits <- fmt.Errorf("task %d: %w", id, r.proc.CallErr(err)):
			case <-ctx.Done():
			}
		}
	}()
}

// stopTasks stops tasks of the run, together. They get
// task.shutdown.graceful.timeout.ms to stop (each commits what was
// delivered); then the plugin is killed, which ends whatever they still
// wait for from it, and they get offset.flush.timeout.ms more (a source
// waits that long for Kafka's acknowledgements) plus a margin, and the
// run has failed. A dead or hung plugin is gone already, so its tasks end
// at once.
func (r *run) stopTasks(ids []int) error {
	if len(ids) == 0 {
		return nil
	}
	wc := r.c.w.opts.Config
	for _, id := range ids {
		r.tasks[id].cancel()
	}
	// Contexts, not timers: a deadline is waited on once per task.
	grace, cancelGrace := context.WithTimeout(context.Background(), wc.ShutdownTimeout)
	defer cancelGrace()
	deadline := grace.Done()
	var err error
	for _, id := range ids {
		t := r.tasks[id]
		delete(r.tasks, id)
		select {
		case <-t.done:
			continue
		case <-deadline:
		}
		if err == nil {
			r.c.log.Warn("tasks did not stop within task.shutdown.graceful.timeout.ms; killing the plugin", "timeout", wc.ShutdownTimeout)
			err = fmt.Errorf("%w: killed when its tasks did not stop within %s", plugin.ErrExited, wc.ShutdownTimeout)
			r.proc.Abort(err)
			killed, cancelKilled := context.WithTimeout(context.Background(), wc.FlushTimeout+5*time.Second)
			defer cancelKilled()
			deadline = killed.Done()
		}
		select {
		case <-t.done:
		case <-deadline:
			r.c.log.Error("task still running after its plugin was killed; leaving it to end on its own", "task", id)
		}
	}
	return err
}

// fetchTaskConfigs asks the connector for its task configs and adds what
// the host reports with them (task.class, and topics for sinks).
func (c *connector) fetchTaskConfigs(ctx context.Context, proc *plugin.Process) ([]map[string]string, error) {
	resp, err := call(ctx, proc, func(ctx context.Context) (*pb.TaskConfigsResponse, error) {
		return proc.Connector.TaskConfigs(ctx, &pb.TaskConfigsRequest{MaxTasks: int32(c.parsed.TasksMax)})
	})
	if err != nil {
		return nil, fmt.Errorf("task configs: %w", err)
	}
	if len(resp.Tasks) > c.parsed.TasksMax {
		return nil, fmt.Errorf("connector produced %d task configs with tasks.max=%d", len(resp.Tasks), c.parsed.TasksMax)
	}
	configs := make([]map[string]string, len(resp.Tasks))
	for i, t := range resp.Tasks {
		tc := map[string]string{}
		for k, v := range t.Config {
			tc[k] = v
		}
		if c.class.Spec.TaskClass != "" {
			tc["task.class"] = c.class.Spec.TaskClass
		}
		if c.sink() {
			tc["topics"] = c.config["topics"]
		}
		configs[i] = tc
	}
	return configs, nil
}

func (c *connector) converters() (key, value convert.Converter, err error) {
	pick := func(own *config.Converter, worker config.Converter) (convert.Converter, error) {
		if own != nil {
			return convert.New(own.Class, own.Config)
		}
		return convert.New(worker.Class, worker.Config)
	}
	if key, err = pick(c.parsed.KeyConverter, c.w.opts.Config.KeyConverter); err != nil {
		return nil, nil, fmt.Errorf("key.converter: %w", err)
	}
	if value, err = pick(c.parsed.ValueConverter, c.w.opts.Config.ValueConverter); err != nil {
		return nil, nil, fmt.Errorf("value.converter: %w", err)
	}
	return key, value, nil
}

const maxBatch = 2000

// offsets returns a source task's offset store: the worker's, or, for a
// connector with an offsets.storage.topic of its own in distributed mode,
// that topic backed by the worker's; release closes what it opened.
func (c *connector) offsets(ctx context.Context) (offs store.OffsetStore, release func(), err error) {
	topic := strings.TrimSpace(c.config["offsets.storage.topic"])
	if topic == "" || c.w.opts.TopicOffsets == nil {
		return c.w.opts.Offsets, func() {}, nil
	}
	own, release, err := c.w.opts.TopicOffsets(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("offsets.storage.topic %s: %w", topic, err)
	}
	return store.ConnectorOffsets{Own: own, Worker: c.w.opts.Offsets}, release, nil
}

func (c *connector) runTask(ctx context.Context, proc *plugin.Process, id int32, cfg map[string]string) error {
	key, value, err := c.converters()
	if err != nil {
		return err
	}
	header, _ := convert.New(convert.StringClass, nil)
	wc := c.w.opts.Config
	log := c.log.With("task", id)
	clientID := c.name + "-" + strconv.Itoa(int(id))
	if c.sink() {
		consumer, err := kafka.NewConsumer(c.w.opts.Bootstrap, "connect-"+c.name, "connector-consumer-"+clientID, wc.Consumer)
		if err != nil {
			return err
		}
		defer consumer.Close()
		t := &task.Sink{
			Connector: c.name, TaskID: id, Class: c.class.Spec.Class, Config: cfg, Topics: c.parsed.Topics,
			Client: proc.Sink, Consumer: consumer, Key: key, Value: value, Header: header,
			FlushInterval: wc.FlushInterval, FlushTimeout: wc.FlushTimeout, MaxBatch: maxBatch, Log: log,
		}
		return t.Run(ctx)
	}
	offs, release, err := c.offsets(ctx)
	if err != nil {
		return err
	}
	defer release()
	if err := offs.ReadToEnd(ctx); err != nil {
		return fmt.Errorf("read offsets: %w", err)
	}
	producer, err := kafka.NewProducer(c.w.opts.Bootstrap, "connector-producer-"+clientID, wc.Producer)
	if err != nil {
		return err
	}
	t := &task.Source{
		Connector: c.name, TaskID: id, Class: c.class.Spec.Class, Config: cfg,
		Client: proc.Source, Producer: producer, Offsets: offs, Key: key, Value: value, Header: header,
		FlushInterval: wc.FlushInterval, FlushTimeout: wc.FlushTimeout, MaxBatch: maxBatch, Log: log,
	}
	runErr := t.Run(ctx)
	// Run has returned, so nothing reads the deliveries now.
	producer.CloseDiscarding(wc.FlushTimeout)
	return runErr
}
