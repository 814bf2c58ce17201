package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
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

// connector is one connector and its supervisor. The supervisor goroutine
// is started by start and joined by stop.
type connector struct {
	w      *Worker
	name   string
	config map[string]string
	parsed *config.Connector
	class  *plugin.Class
	target store.TargetState
	log    hclog.Logger

	mu     sync.Mutex // guards the fields below
	tasks  int        // the tasks whose statuses it reports
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *Worker) newConnector(spec Spec) *connector {
	name := spec.Connector.Name
	return &connector{
		w: w, name: name, config: spec.Connector.Raw, parsed: spec.Connector, class: spec.Class, target: spec.Target,
		tasks: spec.Tasks, log: w.opts.Log.Named(name).With("connector", name),
	}
}

func (c *connector) sink() bool { return c.class.Spec.Kind == pb.PluginKind_PLUGIN_KIND_SINK }

// setState reports state (with trace) for the connector and each of its
// tasks.
func (c *connector) setState(state, trace string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := store.Status{State: state, Trace: trace, WorkerID: c.w.opts.ID}
	c.w.opts.Statuses.PutConnector(c.name, st)
	for i := range c.tasks {
		c.w.opts.Statuses.PutTask(c.name, i, st)
	}
}

// setTasks reports a new set of task configs, whose tasks are about to
// run.
func (c *connector) setTasks(configs []map[string]string) {
	c.mu.Lock()
	c.tasks = len(configs)
	c.w.opts.Statuses.TrimTasks(c.name, len(configs))
	c.mu.Unlock()
	c.w.opts.TaskConfigs(c.name, configs)
}

// start launches the supervisor for the target state; a paused or
// stopped connector has none.
func (c *connector) start() {
	c.mu.Lock()
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	c.mu.Unlock()
	switch c.target {
	case store.Stopped:
		c.setTasks(nil)
		c.setState(store.StateStopped, "")
		close(c.done)
		return
	case store.Paused:
		c.setState(store.StatePaused, "")
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
		if errors.Is(err, errReconfigure) {
			c.log.Info("task configs changed; restarting tasks")
			continue
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

// errReconfigure ends a run whose task configs changed: the supervisor
// starts the next at once, and it does not count as a failure.
var errReconfigure = errors.New("task configs changed")

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

// runOnce launches the plugin, starts the connector and its tasks, and
// waits until ctx is cancelled (nil), the connector asks for different task
// configs (errReconfigure) or something fails: a task, the connector, or
// the plugin process (it exits, or leaves health checks unanswered for
// ferry.plugin.heartbeat.timeout.ms). It returns once the plugin process is
// gone, in bounded time (see stopRun). A failure of the running
// connector is handed to failed as soon as it is known.
func (c *connector) runOnce(ctx context.Context, failed func(error)) error {
	proc, err := c.w.opts.Launch.Launch(ctx, c.class.Binary, c.name, c.log, pluginStartTimeout)
	if err != nil {
		return err
	}
	defer proc.Kill()
	// Calls end when ctx does, and when the plugin dies or hangs.
	callCtx, cancelCalls := proc.Context(ctx)
	defer cancelCalls()
	if _, err := call(callCtx, proc, func(ctx context.Context) (*pb.StartResponse, error) {
		return proc.Connector.Start(ctx, &pb.StartRequest{Class: c.class.Spec.Class, Config: c.config})
	}); err != nil {
		return fmt.Errorf("start connector: %w", err)
	}
	configs, err := c.fetchTaskConfigs(callCtx, proc)
	if err != nil {
		return err
	}
	events, err := proc.Connector.Events(callCtx, &pb.EventsRequest{})
	if err != nil {
		return fmt.Errorf("connector events: %w", proc.CallErr(err))
	}
	// The event reader ends with the stream (the connector stops, the
	// process dies, or callCtx ends when this run is over).
	requests := make(chan *pb.ConnectorEvent)
	go func() {
		for {
			ev, err := events.Recv()
			if err != nil {
				return
			}
			select {
			case requests <- ev:
			case <-callCtx.Done():
				return
			}
		}
	}()
	c.setTasks(configs)
	c.setState(store.StateRunning, "")
	c.log.Info("connector running", "tasks", len(configs), "plugin", c.class.PluginName, "version", c.class.PluginVersion)

	taskCtx, stopTasks := context.WithCancel(context.Background())
	defer stopTasks()
	errs := make(chan error, len(configs))
	var wg sync.WaitGroup
	for i, tc := range configs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.runTask(taskCtx, proc, int32(i), tc); err != nil {
				errs <- fmt.Errorf("task %d: %w", i, proc.CallErr(err))
			}
		}()
	}
	tasksDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(tasksDone)
	}()
	var failure error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case failure = <-errs:
			break wait
		case <-proc.Done():
			failure = proc.Err()
			break wait
		case ev := <-requests:
			if msg := ev.GetError(); msg != "" {
				failure = fmt.Errorf("connector raised an error: %s", msg)
				break wait
			}
			fresh, err := c.fetchTaskConfigs(callCtx, proc)
			if err != nil {
				failure = err
				break wait
			}
			if !reflect.DeepEqual(fresh, configs) {
				failure = errReconfigure
				break wait
			}
		}
	}
	if failure != nil && !errors.Is(failure, errReconfigure) {
		failed(failure)
	}
	c.stopRun(proc, stopTasks, tasksDone)
	return failure
}

// stopRun stops a run's tasks, then its connector; the caller then kills
// the process. Tasks get task.shutdown.graceful.timeout.ms to stop (each
// commits what was delivered); then the plugin is killed, which ends
// whatever they still wait for from it, and they get offset.flush.timeout.ms
// more (a source waits that long for Kafka's acknowledgements) plus a
// margin. A dead or hung plugin is gone already, so its tasks end at once.
func (c *connector) stopRun(proc *plugin.Process, stopTasks context.CancelFunc, tasksDone <-chan struct{}) {
	wc := c.w.opts.Config
	stopTasks()
	select {
	case <-tasksDone:
	case <-time.After(wc.ShutdownTimeout):
		c.log.Warn("tasks did not stop within task.shutdown.graceful.timeout.ms; killing the plugin", "timeout", wc.ShutdownTimeout)
		proc.Abort(fmt.Errorf("%w: killed when its tasks did not stop within %s", plugin.ErrExited, wc.ShutdownTimeout))
		select {
		case <-tasksDone:
		case <-time.After(wc.FlushTimeout + 5*time.Second):
			c.log.Error("tasks still running after their plugin was killed; leaving them to end on their own")
		}
	}
	if proc.Err() != nil {
		return
	}
	ctx, cancel := proc.Context(context.Background())
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, stopCallTimeout)
	defer cancelTimeout()
	if _, err := proc.Connector.Stop(ctx, &pb.StopRequest{}); err != nil {
		// Hung or dying: no point in a graceful shutdown of the process.
		err = proc.CallErr(err)
		c.log.Warn("stop connector", "error", err)
		proc.Abort(fmt.Errorf("%w: killed when its connector did not stop: %v", plugin.ErrExited, err))
	}
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
	producer, err := kafka.NewProducer(c.w.opts.Bootstrap, "connector-producer-"+clientID, wc.Producer)
	if err != nil {
		return err
	}
	t := &task.Source{
		Connector: c.name, TaskID: id, Class: c.class.Spec.Class, Config: cfg,
		Client: proc.Source, Producer: producer, Offsets: c.w.opts.Offsets, Key: key, Value: value, Header: header,
		FlushInterval: wc.FlushInterval, FlushTimeout: wc.FlushTimeout, MaxBatch: maxBatch, Log: log,
	}
	runErr := t.Run(ctx)
	// Run has returned, so nothing reads the deliveries now.
	producer.CloseDiscarding(wc.FlushTimeout)
	return runErr
}
