// Package worker is Ferry's composition root and service layer: it owns
// the connectors, starts their plugin processes and tasks, restarts what
// dies, keeps standalone state, and answers the admin APIs.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/convert"
	"github.com/ferry-connect/ferry/host/offsets"
	"github.com/ferry-connect/ferry/host/plugin"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// GCFloor is the heap below which the worker's garbage collector is held
// back (see package gcfloor): the worker's live heap is a few MiB of
// in-flight batches. Against 16 MiB (and 8 MiB for plugins), 24 MiB took
// 12% less CPU per record in the sink pipeline for ~20 MiB of memory.
const GCFloor = 24 << 20

// Connector and task states, as Kafka Connect reports them.
const (
	StateUnassigned = "UNASSIGNED"
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateRestarting = "RESTARTING"
)

// Options are what a worker is built from.
type Options struct {
	Config    *config.Worker
	Bootstrap string
	// ID is the worker id reported in statuses (host:port).
	ID      string
	Catalog *plugin.Catalog
	Launch  *plugin.Launcher
	Offsets *offsets.FileStore
	Log     hclog.Logger
}

// Worker runs connectors. Its methods are safe for concurrent use.
type Worker struct {
	opts      Options
	statePath string

	// locks serialises changes (create, update, delete, state changes) to
	// one connector: each stops and starts its supervisor, and two at once
	// would leave one running unowned. Changes to different connectors go
	// on side by side, so a plugin that is slow to start or stop holds up
	// only its own connector. Lock order: a name's lock, then saveMu, then
	// mu, then a connector's mu.
	locks nameLocks
	// saveMu makes each write of the state file hold a snapshot no older
	// than the previous write's.
	saveMu sync.Mutex

	mu         sync.Mutex // guards connectors and closed
	connectors map[string]*connector
	closed     bool
	wg         sync.WaitGroup
}

// New makes a worker; Restore brings back the connectors a previous run
// kept.
func New(opts Options) *Worker {
	return &Worker{opts: opts, connectors: map[string]*connector{}, statePath: filepath.Join(opts.Config.DataDir, "connectors.json")}
}

// stored is the standalone state file's shape.
type stored struct {
	Config map[string]string `json:"config"`
	Target string            `json:"target"`
}

// Restore starts the connectors kept from the previous run. A connector
// that no longer validates is reported and left out.
func (w *Worker) Restore(ctx context.Context) error {
	b, err := os.ReadFile(w.statePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read connector state: %w", err)
	}
	var state map[string]stored
	if err := json.Unmarshal(b, &state); err != nil {
		return fmt.Errorf("connector state %s: %w", w.statePath, err)
	}
	names := make([]string, 0, len(state))
	for n := range state {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st := state[n]
		if _, err := w.create(ctx, st.Config, st.Target, false); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			w.opts.Log.Error("cannot restore connector", "connector", n, "error", err)
		}
	}
	return nil
}

// save writes every connector's config and target state to the state
// file.
func (w *Worker) save() error {
	w.saveMu.Lock()
	defer w.saveMu.Unlock()
	state := map[string]stored{}
	w.mu.Lock()
	for n, c := range w.connectors {
		c.mu.Lock()
		state[n] = stored{Config: c.config, Target: c.target}
		c.mu.Unlock()
	}
	w.mu.Unlock()
	b, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	if err := offsets.WriteAtomic(w.statePath, b); err != nil {
		return fmt.Errorf("save connector state: %w", err)
	}
	return nil
}

// Validate checks a connector config and returns its class; every problem
// is named by key in an *InvalidConfigError.
func (w *Worker) Validate(ctx context.Context, cfg map[string]string) (*plugin.Class, *config.Connector, error) {
	class, parsed, errs, err := w.check(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if len(errs) > 0 {
		return nil, nil, &InvalidConfigError{Errors: errs}
	}
	return class, parsed, nil
}

// CheckConfig returns every problem with a connector config, by key; an
// error means the check itself could not run.
func (w *Worker) CheckConfig(ctx context.Context, cfg map[string]string) ([]config.KeyError, error) {
	_, _, errs, err := w.check(ctx, cfg)
	return errs, err
}

func (w *Worker) check(ctx context.Context, cfg map[string]string) (*plugin.Class, *config.Connector, []config.KeyError, error) {
	var errs []config.KeyError
	class, ok := w.opts.Catalog.Find(strings.TrimSpace(cfg["connector.class"]))
	if !ok && strings.TrimSpace(cfg["connector.class"]) != "" {
		var names []string
		for _, c := range w.opts.Catalog.Classes() {
			names = append(names, c.Spec.Class)
		}
		errs = append(errs, config.KeyError{Key: "connector.class", Message: fmt.Sprintf("Failed to find any class that implements Connector and which name matches %s, available connectors are: %s", cfg["connector.class"], strings.Join(names, ", "))})
	}
	sink := ok && class.Spec.Kind == pb.PluginKind_PLUGIN_KIND_SINK
	parsed, perrs := config.ParseConnector(cfg, sink)
	errs = append(errs, perrs...)
	for _, side := range []*config.Converter{parsed.KeyConverter, parsed.ValueConverter} {
		if side == nil {
			continue
		}
		key := "value.converter"
		if side == parsed.KeyConverter {
			key = "key.converter"
		}
		if _, err := convert.New(side.Class, side.Config); err != nil {
			errs = append(errs, config.KeyError{Key: key, Message: err.Error()})
		}
	}
	if ok {
		perrs, err := w.pluginValidate(ctx, class, cfg)
		if err != nil {
			return nil, nil, nil, err
		}
		errs = append(errs, perrs...)
	}
	return class, parsed, errs, nil
}

// validateTimeout bounds a plugin's validation of a config, start-up
// included.
const validateTimeout = 30 * time.Second

func (w *Worker) pluginValidate(ctx context.Context, class *plugin.Class, cfg map[string]string) ([]config.KeyError, error) {
	p, err := w.opts.Launch.Launch(ctx, class.Binary, "", plugin.Quiet(w.opts.Log.Named("validate")), 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("validate with plugin %s: %w", class.PluginName, err)
	}
	defer p.Kill()
	ctx, cancel := p.Context(ctx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, validateTimeout)
	defer cancelTimeout()
	resp, err := p.Connector.Validate(ctx, &pb.ValidateRequest{Class: class.Spec.Class, Config: cfg})
	if err != nil {
		return nil, fmt.Errorf("validate with plugin %s: %w", class.PluginName, p.CallErr(err))
	}
	var errs []config.KeyError
	for _, e := range resp.Errors {
		errs = append(errs, config.KeyError{Key: e.Key, Message: e.Message})
	}
	return errs, nil
}

// Create validates and starts a connector in target state (RUNNING,
// PAUSED or STOPPED).
func (w *Worker) Create(ctx context.Context, cfg map[string]string, target string) (*Info, error) {
	return w.create(ctx, cfg, target, true)
}

func (w *Worker) create(ctx context.Context, cfg map[string]string, target string, mustBeNew bool) (*Info, error) {
	if target == "" {
		target = StateRunning
	}
	class, parsed, err := w.Validate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := w.locks.lock(ctx, parsed.Name); err != nil {
		return nil, err
	}
	defer w.locks.unlock(parsed.Name)
	if _, err := w.get(parsed.Name); err == nil && mustBeNew {
		return nil, fmt.Errorf("connector %s %w", parsed.Name, ErrExists)
	}
	return w.install(parsed, class, target)
}

// Put creates or replaces a connector's config; created says which. An
// unchanged config leaves the connector running as it is.
func (w *Worker) Put(ctx context.Context, name string, cfg map[string]string) (info *Info, created bool, err error) {
	if cfg["name"] == "" {
		cfg["name"] = name
	}
	if cfg["name"] != name {
		return nil, false, &BadRequestError{Msg: fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", cfg["name"], name)}
	}
	if err := w.locks.lock(ctx, name); err != nil {
		return nil, false, err
	}
	defer w.locks.unlock(name)
	target := StateRunning
	old, _ := w.get(name)
	if old != nil {
		if maps.Equal(old.config, cfg) {
			// A worker restarted with the same connector files, say:
			// no need to validate again, nor to restart it.
			return old.info(), false, nil
		}
		old.mu.Lock()
		target = old.target
		old.mu.Unlock()
	}
	class, parsed, err := w.Validate(ctx, cfg)
	if err != nil {
		return nil, false, err
	}
	info, err = w.install(parsed, class, target)
	return info, old == nil, err
}

// errClosing refuses changes once the worker is shutting down.
var errClosing = errors.New("worker is shutting down")

// install stores and starts a connector, first stopping any it replaces.
// The caller holds the name's lock.
func (w *Worker) install(parsed *config.Connector, class *plugin.Class, target string) (*Info, error) {
	w.mu.Lock()
	old, closed := w.connectors[parsed.Name], w.closed
	w.mu.Unlock()
	if closed {
		return nil, errClosing
	}
	if old != nil {
		old.stop()
	}
	c := w.newConnector(parsed, class, target)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, errClosing
	}
	w.connectors[parsed.Name] = c
	w.mu.Unlock()
	if err := w.save(); err != nil {
		w.mu.Lock()
		delete(w.connectors, parsed.Name)
		w.mu.Unlock()
		return nil, err
	}
	// Started under mu, so that Close either sees it started and stops
	// it, or has already closed the worker and it never starts.
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errClosing
	}
	c.start()
	return c.info(), nil
}

func (w *Worker) get(name string) (*connector, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.connectors[name]
	if !ok {
		return nil, fmt.Errorf("Connector %s %w", name, ErrNotFound)
	}
	return c, nil
}

// Delete stops and removes a connector.
func (w *Worker) Delete(ctx context.Context, name string) error {
	if err := w.locks.lock(ctx, name); err != nil {
		return err
	}
	defer w.locks.unlock(name)
	c, err := w.get(name)
	if err != nil {
		return err
	}
	c.stop()
	w.mu.Lock()
	delete(w.connectors, name)
	w.mu.Unlock()
	return w.save()
}

// Names lists connectors, sorted.
func (w *Worker) Names() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := make([]string, 0, len(w.connectors))
	for n := range w.connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns a connector's info.
func (w *Worker) Get(name string) (*Info, error) {
	c, err := w.get(name)
	if err != nil {
		return nil, err
	}
	return c.info(), nil
}

// Status returns a connector's status.
func (w *Worker) Status(name string) (*Status, error) {
	c, err := w.get(name)
	if err != nil {
		return nil, err
	}
	return c.status(), nil
}

// Tasks returns a connector's task configs.
func (w *Worker) Tasks(name string) ([]TaskInfo, error) {
	c, err := w.get(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TaskInfo, len(c.taskConfigs))
	for i, tc := range c.taskConfigs {
		out[i] = TaskInfo{Connector: name, Task: i, Config: tc}
	}
	return out, nil
}

// SetTarget pauses (PAUSED), resumes (RUNNING) or stops (STOPPED) a
// connector.
func (w *Worker) SetTarget(ctx context.Context, name, target string) error {
	if err := w.locks.lock(ctx, name); err != nil {
		return err
	}
	defer w.locks.unlock(name)
	c, err := w.get(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	same := c.target == target
	c.mu.Unlock()
	if same {
		return nil
	}
	c.stop()
	c.mu.Lock()
	c.target = target
	c.mu.Unlock()
	if err := w.save(); err != nil {
		return err
	}
	return w.restart(c)
}

// Restart restarts a connector and, with includeTasks, its tasks; with
// onlyFailed, only if something failed. In Ferry a connector and its tasks
// share one plugin process, so a restart restarts them together.
func (w *Worker) Restart(ctx context.Context, name string, includeTasks, onlyFailed bool) (*Status, error) {
	if err := w.locks.lock(ctx, name); err != nil {
		return nil, err
	}
	defer w.locks.unlock(name)
	c, err := w.get(name)
	if err != nil {
		return nil, err
	}
	if onlyFailed && !c.anyFailed(includeTasks) {
		return c.status(), nil
	}
	c.stop()
	if err := w.restart(c); err != nil {
		return nil, err
	}
	return c.status(), nil
}

// restart starts a stopped connector again, unless the worker is closing.
func (w *Worker) restart(c *connector) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosing
	}
	c.start()
	return nil
}

// Class finds an installed connector class by name or alias.
func (w *Worker) Class(name string) (*plugin.Class, bool) { return w.opts.Catalog.Find(name) }

// Plugins lists the installed classes, plus converters unless
// connectorsOnly.
func (w *Worker) Plugins(connectorsOnly bool) []PluginInfo {
	var out []PluginInfo
	for _, c := range w.opts.Catalog.Classes() {
		out = append(out, PluginInfo{Class: c.Spec.Class, Type: c.Type(), Version: c.Spec.Version})
	}
	if !connectorsOnly {
		for _, c := range convert.Classes {
			out = append(out, PluginInfo{Class: c, Type: "converter"})
		}
	}
	return out
}

// Close stops every connector, all at once: each gets
// task.shutdown.graceful.timeout.ms to finish gracefully (final commits
// included) before its plugin is killed. It waits for them, and refuses
// changes from then on.
func (w *Worker) Close() {
	w.mu.Lock()
	w.closed = true
	cs := make([]*connector, 0, len(w.connectors))
	for _, c := range w.connectors {
		cs = append(cs, c)
	}
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop()
		}()
	}
	wg.Wait()
	w.wg.Wait()
}

// Info is Kafka Connect's ConnectorInfo.
type Info struct {
	Name   string
	Config map[string]string
	Tasks  int
	Type   string
}

// State is one connector's or task's state.
type State struct {
	State string
	Trace string
}

// Status is Kafka Connect's ConnectorStateInfo.
type Status struct {
	Name      string
	Connector State
	Tasks     []State
	Type      string
	WorkerID  string
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
