// Package worker runs connectors: for each connector a herder gives it, it
// starts the plugin process, the connector and its tasks, restarts what
// fails, and reports statuses and the task configs the connector produced.
// What runs, and in which target state, is the herder's to decide.
package worker

import (
	"context"
	"errors"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/config"
	"github.com/ferry-connect/ferry/host/plugin"
	"github.com/ferry-connect/ferry/host/store"
)

// GCFloor is the heap below which the worker's garbage collector is held
// back (see package gcfloor): the worker's live heap is a few MiB of
// in-flight batches. Against 16 MiB (and 8 MiB for plugins), 24 MiB took
// 12% less CPU per record in the sink pipeline for ~20 MiB of memory.
const GCFloor = 24 << 20

// StatusStore is where a worker reports the statuses of what it runs.
type StatusStore interface {
	PutConnector(name string, st store.Status)
	PutTask(connector string, task int, st store.Status)
	// TrimTasks forgets the tasks of a connector from id n on.
	TrimTasks(connector string, n int)
}

// Options are what a worker is built from.
type Options struct {
	Config    *config.Worker
	Bootstrap string
	// ID is the worker id reported in statuses (host:port).
	ID     string
	Launch *plugin.Launcher
	// Offsets is read to its end before a source task reads its offsets:
	// in distributed mode another worker may have run the task last.
	Offsets store.OffsetStore
	// TopicOffsets, if set, opens the offsets topic a source connector
	// names in offsets.storage.topic (distributed mode); release closes it.
	TopicOffsets func(ctx context.Context, topic string) (offs store.OffsetStore, release func(), err error)
	Statuses     StatusStore
	// TaskConfigs receives the task configs each running connector
	// produces (with task.class, and topics for sinks), each time they
	// change.
	TaskConfigs func(connector string, configs []map[string]string)
	Log         hclog.Logger
}

// Spec is what of a connector a worker runs.
type Spec struct {
	Connector *config.Connector
	Class     *plugin.Class
	Target    store.TargetState
	// RunConnector runs the connector instance here: it produces the
	// task configs, reported to Options.TaskConfigs.
	RunConnector bool
	// Tasks are the tasks to run here, by id, with their configs.
	Tasks map[int]map[string]string
	// FollowConnector runs every task the connector produces, with the
	// configs it produced (standalone mode); Tasks are then the tasks it
	// had, for the statuses of a paused connector.
	FollowConnector bool
}

// Worker runs connectors. Its methods are safe for concurrent use; Start
// and Stop for one connector must not run concurrently (the herder
// serialises changes to each connector).
type Worker struct {
	opts Options

	mu         sync.Mutex // guards connectors and closed
	connectors map[string]*connector
	closed     bool
	wg         sync.WaitGroup // the connectors' supervisors
}

// New makes a worker; it runs nothing until Start.
func New(opts Options) *Worker {
	return &Worker{opts: opts, connectors: map[string]*connector{}}
}

// ErrClosing refuses to start connectors once the worker is shutting down.
var ErrClosing = errors.New("worker is shutting down")

// Start runs what spec says of a connector, in its target state, first
// stopping whatever of it the worker runs.
func (w *Worker) Start(spec Spec) error {
	w.Stop(spec.Connector.Name)
	c := w.newConnector(spec)
	// Registered and started under mu, so that Close either sees it
	// started and stops it, or has already closed the worker and it
	// never starts.
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosing
	}
	w.connectors[c.name] = c
	c.start()
	return nil
}

// Assign changes what of a connector the worker runs. When it runs the
// connector already with the same config, class and target state, the
// change is made in place: tasks that stay, with the same configs, keep
// running, and so does the connector instance if it stays. Otherwise it
// is Start, as it is for a connector whose restarts are spent (FAILED): a
// new share is a fresh start, as a task moved to another worker is.
func (w *Worker) Assign(spec Spec) error {
	w.mu.Lock()
	c := w.connectors[spec.Connector.Name]
	w.mu.Unlock()
	if c != nil && c.sameRun(spec) && !c.gaveUp() {
		c.assign(spec)
		return nil
	}
	return w.Start(spec)
}

// Stop stops a connector gracefully (final commits included) and forgets
// it; its plugin is killed if its tasks do not stop within
// task.shutdown.graceful.timeout.ms. Stopping a connector the worker does
// not run does nothing.
func (w *Worker) Stop(name string) {
	w.mu.Lock()
	c := w.connectors[name]
	delete(w.connectors, name)
	w.mu.Unlock()
	if c != nil {
		c.stop()
	}
}

// Close stops every connector, all at once, each as Stop does, waits for
// them, and refuses to start any from then on.
func (w *Worker) Close() {
	w.mu.Lock()
	w.closed = true
	cs := make([]*connector, 0, len(w.connectors))
	for _, c := range w.connectors {
		cs = append(cs, c)
	}
	w.connectors = map[string]*connector{}
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
