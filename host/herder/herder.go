// Package herder is Ferry's control plane: it decides which connectors
// exist and in which target state, validates their configs, keeps them in
// a config store and has a worker run them, and answers the admin APIs
// from the config and status stores. Standalone mode's herder keeps its
// state in local files; distributed mode's will keep it in Kafka and share
// the work through group membership.
package herder

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/host/store"
	"github.com/ferry-connect/ferry/host/worker"
)

// Herder is what the admin APIs (REST and gRPC) ask of the control
// plane: *Standalone, and later a distributed herder. Methods are safe for
// concurrent use; errors are ErrNotFound, ErrExists, *InvalidConfigError,
// *BadRequestError, or others (a failure of the herder itself).
type Herder interface {
	Names() []string
	Get(name string) (*Info, error)
	Status(name string) (*Status, error)
	Tasks(name string) ([]TaskInfo, error)
	Create(ctx context.Context, cfg map[string]string, target store.TargetState) (*Info, error)
	Put(ctx context.Context, name string, cfg map[string]string) (info *Info, created bool, err error)
	Delete(ctx context.Context, name string) error
	SetTarget(ctx context.Context, name string, target store.TargetState) error
	Restart(ctx context.Context, name string, includeTasks, onlyFailed bool) (*Status, error)
	// PutTaskConfigs takes task configs a worker's connector produced
	// (distributed mode's internal request to the leader).
	PutTaskConfigs(ctx context.Context, name string, configs []map[string]string) error
	CheckConfig(ctx context.Context, cfg map[string]string) ([]config.KeyError, error)
	Class(name string) (*plugin.Class, bool)
	Plugins(connectorsOnly bool) []PluginInfo
}

// Options are what a standalone herder is built from.
type Options struct {
	Configs  *store.FileConfigs
	Statuses *store.MemoryStatus
	Worker   *worker.Worker
	Catalog  *plugin.Catalog
	// Launch starts plugins to validate configs.
	Launch *plugin.Launcher
	// WorkerID is reported for what has no status yet.
	WorkerID string
	Log      hclog.Logger
}

// Standalone is the herder of a standalone worker: every connector runs
// on this worker. Its methods are safe for concurrent use.
type Standalone struct {
	opts Options
	plugins
	// locks serialises changes (create, update, delete, state changes) to
	// one connector: each stops and starts it on the worker, and two at
	// once would leave one running unowned. Changes to different
	// connectors go on side by side, so a plugin that is slow to start or
	// stop holds up only its own connector.
	locks nameLocks
}

// NewStandalone makes a standalone herder; Restore starts the connectors
// its config store holds.
func NewStandalone(opts Options) *Standalone {
	return &Standalone{opts: opts, plugins: plugins{catalog: opts.Catalog, launch: opts.Launch, log: opts.Log}}
}

// Restore validates and starts every connector the config store holds,
// in its target state. One that no longer validates (its plugin is gone,
// say) is kept, and reported FAILED with the reason.
func (h *Standalone) Restore(ctx context.Context) error {
	for _, name := range h.opts.Configs.Names() {
		c, ok := h.opts.Configs.Get(name)
		if !ok {
			continue
		}
		if err := h.restore(ctx, name, c); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			h.opts.Log.Error("cannot restore connector", "connector", name, "error", err)
			h.opts.Statuses.PutConnector(name, store.Status{State: store.StateFailed, Trace: err.Error(), WorkerID: h.opts.WorkerID})
		}
	}
	return nil
}

func (h *Standalone) restore(ctx context.Context, name string, c store.Connector) error {
	if err := h.locks.lock(ctx, name); err != nil {
		return err
	}
	defer h.locks.unlock(name)
	class, parsed, err := h.Validate(ctx, c.Config)
	if err != nil {
		return err
	}
	return h.run(parsed, class, c.Target, c.Tasks)
}

// run has the worker run a connector and every task it produces; tasks
// are the task configs it had. The caller holds its lock.
func (h *Standalone) run(parsed *config.Connector, class *plugin.Class, target store.TargetState, tasks []map[string]string) error {
	byID := make(map[int]map[string]string, len(tasks))
	for i, tc := range tasks {
		byID[i] = tc
	}
	err := h.opts.Worker.Start(worker.Spec{Connector: parsed, Class: class, Target: target, RunConnector: true, FollowConnector: true, Tasks: byID})
	if errors.Is(err, worker.ErrClosing) {
		return errors.New("worker is shutting down")
	}
	return err
}

// Create validates and starts a connector in target state.
func (h *Standalone) Create(ctx context.Context, cfg map[string]string, target store.TargetState) (*Info, error) {
	return createNew(ctx, &h.plugins, &h.locks, h.opts.Configs, cfg, func(class *plugin.Class, parsed *config.Connector) (*Info, error) {
		return h.install(parsed, class, target)
	})
}

// createNew is both herders' create: it validates cfg, takes the name's
// lock and, unless configs holds the name (ErrExists), has install store
// and run it with the lock held.
func createNew(ctx context.Context, p *plugins, locks *nameLocks, configs interface {
	Get(name string) (store.Connector, bool)
}, cfg map[string]string, install func(*plugin.Class, *config.Connector) (*Info, error)) (*Info, error) {
	class, parsed, err := p.Validate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := locks.lock(ctx, parsed.Name); err != nil {
		return nil, err
	}
	defer locks.unlock(parsed.Name)
	if _, exists := configs.Get(parsed.Name); exists {
		return nil, fmt.Errorf("connector %s %w", parsed.Name, ErrExists)
	}
	return install(class, parsed)
}

// Put creates or replaces a connector's config; created says which. An
// unchanged config leaves the connector running as it is.
func (h *Standalone) Put(ctx context.Context, name string, cfg map[string]string) (info *Info, created bool, err error) {
	if cfg["name"] == "" {
		cfg["name"] = name
	}
	if cfg["name"] != name {
		return nil, false, &BadRequestError{Msg: fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", cfg["name"], name)}
	}
	if err := h.locks.lock(ctx, name); err != nil {
		return nil, false, err
	}
	defer h.locks.unlock(name)
	target := store.Started
	old, exists := h.opts.Configs.Get(name)
	if exists {
		if maps.Equal(old.Config, cfg) {
			// A worker restarted with the same connector files, say:
			// no need to validate again, nor to restart it.
			return h.info(name, old), false, nil
		}
		target = old.Target
	}
	class, parsed, err := h.Validate(ctx, cfg)
	if err != nil {
		return nil, false, err
	}
	info, err = h.install(parsed, class, target)
	return info, !exists, err
}

// install stores a connector's config and runs it, replacing any it had
// under the name. The caller holds the name's lock.
func (h *Standalone) install(parsed *config.Connector, class *plugin.Class, target store.TargetState) (*Info, error) {
	// Stopped first: the old connector's last task configs must not land
	// after the new config.
	h.opts.Worker.Stop(parsed.Name)
	if err := h.opts.Configs.Put(parsed.Name, parsed.Raw, target); err != nil {
		return nil, err
	}
	if err := h.run(parsed, class, target, nil); err != nil {
		return nil, err
	}
	c, _ := h.opts.Configs.Get(parsed.Name)
	return h.info(parsed.Name, c), nil
}

// Delete stops and removes a connector.
func (h *Standalone) Delete(ctx context.Context, name string) error {
	if err := h.locks.lock(ctx, name); err != nil {
		return err
	}
	defer h.locks.unlock(name)
	if _, ok := h.opts.Configs.Get(name); !ok {
		return notFound(name)
	}
	h.opts.Worker.Stop(name)
	if err := h.opts.Configs.Remove(name); err != nil {
		return err
	}
	h.opts.Statuses.Remove(name)
	return nil
}

// SetTarget pauses, resumes (Started) or stops a connector.
func (h *Standalone) SetTarget(ctx context.Context, name string, target store.TargetState) error {
	if err := h.locks.lock(ctx, name); err != nil {
		return err
	}
	defer h.locks.unlock(name)
	c, ok := h.opts.Configs.Get(name)
	if !ok {
		return notFound(name)
	}
	if c.Target == target {
		return nil
	}
	class, parsed, err := h.resolve(c.Config)
	if err != nil {
		return err
	}
	h.opts.Worker.Stop(name)
	if err := h.opts.Configs.PutTarget(name, target); err != nil {
		return err
	}
	c, _ = h.opts.Configs.Get(name)
	return h.run(parsed, class, target, c.Tasks)
}

// Restart restarts a connector and, with includeTasks, its tasks; with
// onlyFailed, only if something failed. In Ferry a connector and its tasks
// share one plugin process, so a restart restarts them together.
func (h *Standalone) Restart(ctx context.Context, name string, includeTasks, onlyFailed bool) (*Status, error) {
	if err := h.locks.lock(ctx, name); err != nil {
		return nil, err
	}
	defer h.locks.unlock(name)
	c, ok := h.opts.Configs.Get(name)
	if !ok {
		return nil, notFound(name)
	}
	if onlyFailed && !h.anyFailed(name, includeTasks) {
		return h.status(name, c), nil
	}
	class, parsed, err := h.resolve(c.Config)
	if err != nil {
		return nil, err
	}
	if err := h.run(parsed, class, c.Target, c.Tasks); err != nil {
		return nil, err
	}
	return h.status(name, c), nil
}

func (h *Standalone) anyFailed(name string, includeTasks bool) bool {
	if st, _ := h.opts.Statuses.Connector(name); st.State == store.StateFailed {
		return true
	}
	for _, t := range h.opts.Statuses.Tasks(name) {
		if includeTasks && t.State == store.StateFailed {
			return true
		}
	}
	return false
}

// PutTaskConfigs is distributed mode's: a standalone worker's connectors
// hand their task configs to it directly.
func (h *Standalone) PutTaskConfigs(context.Context, string, []map[string]string) error {
	return &BadRequestError{Msg: "task configs are taken only by the leader of a distributed group"}
}

// Names lists connectors, sorted.
func (h *Standalone) Names() []string { return h.opts.Configs.Names() }

// Get returns a connector's info.
func (h *Standalone) Get(name string) (*Info, error) {
	c, ok := h.opts.Configs.Get(name)
	if !ok {
		return nil, notFound(name)
	}
	return h.info(name, c), nil
}

func (h *Standalone) info(name string, c store.Connector) *Info {
	return &Info{Name: name, Config: c.Config, Tasks: len(c.Tasks), Type: h.typeOf(c.Config)}
}

// Status returns a connector's status.
func (h *Standalone) Status(name string) (*Status, error) {
	c, ok := h.opts.Configs.Get(name)
	if !ok {
		return nil, notFound(name)
	}
	return h.status(name, c), nil
}

func (h *Standalone) status(name string, c store.Connector) *Status {
	st, ok := h.opts.Statuses.Connector(name)
	if !ok {
		st = store.Status{State: store.StateUnassigned, WorkerID: h.opts.WorkerID}
	}
	out := &Status{Name: name, Connector: stateOf(st), Type: h.typeOf(c.Config)}
	for _, t := range h.opts.Statuses.Tasks(name) {
		out.Tasks = append(out.Tasks, stateOf(t))
	}
	return out
}

func stateOf(st store.Status) State {
	return State{State: st.State, Trace: st.Trace, WorkerID: st.WorkerID}
}

// Tasks returns a connector's task configs.
func (h *Standalone) Tasks(name string) ([]TaskInfo, error) {
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

func notFound(name string) error { return fmt.Errorf("Connector %s %w", name, ErrNotFound) }

// Info is Kafka Connect's ConnectorInfo.
type Info struct {
	Name   string
	Config map[string]string
	Tasks  int
	Type   string
}

// State is one connector's or task's state, and the worker it is on.
type State struct {
	State    string
	Trace    string
	WorkerID string
}

// Status is Kafka Connect's ConnectorStateInfo.
type Status struct {
	Name      string
	Connector State
	Tasks     []State
	Type      string
}

// TaskInfo is one task's configuration.
type TaskInfo struct {
	Connector string
	Task      int
	Config    map[string]string
}

// PluginInfo is one installed class.
type PluginInfo struct {
	Class, Type, Version string
}

// Interface guards.
var _ Herder = (*Standalone)(nil)
