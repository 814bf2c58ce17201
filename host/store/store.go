// Package store keeps what the control plane knows of connectors: their
// configs, target states and task configs (the config store), and the
// status of each connector and task (the status store). Standalone mode
// keeps configs in a local file and statuses in memory; distributed mode
// will keep both in Kafka Connect's compacted internal topics, behind the
// same methods.
package store

import (
	"context"

	"github.com/ferry-connect/ferry/host/offsets"
)

// OffsetStore is where source offsets live: offsets.FileStore (standalone),
// KafkaOffsets (distributed), or ConnectorOffsets (a connector with its own
// offsets topic).
type OffsetStore interface {
	Get(connector string) []offsets.Offset
	Put(connector string, offs []offsets.Offset) error
	// ReadToEnd brings the store up to date with what other workers
	// wrote, before a task reads its offsets.
	ReadToEnd(ctx context.Context) error
}

// TargetState is the state a user asked a connector to be in, as Kafka
// Connect's config topic holds it (target-state-<name>, state.v2).
type TargetState string

// Target states.
const (
	Started TargetState = "STARTED"
	Paused  TargetState = "PAUSED"
	Stopped TargetState = "STOPPED"
)

// ParseTargetState reads a target state; v0's state file wrote STARTED as
// RUNNING, as the REST API's initial_state names it.
func ParseTargetState(s string) (TargetState, bool) {
	switch TargetState(s) {
	case Started, "RUNNING":
		return Started, true
	case Paused, Stopped:
		return TargetState(s), true
	}
	return "", false
}

// Connector and task states, as Kafka Connect's status topic holds them.
const (
	StateUnassigned = "UNASSIGNED"
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateRestarting = "RESTARTING"
)

// Status is a connector's or task's status, as a status-connector-<name>
// or status-task-<name>-<n> record holds it.
type Status struct {
	State string
	// Trace says why it failed (or is restarting); empty otherwise.
	Trace string
	// WorkerID is the worker that runs it (host:port).
	WorkerID string
	// Generation is the group generation the status was written in.
	Generation int32
	// Version is the running plugin's version, which status records
	// carry since Kafka Connect 4.1; empty when it is not running.
	Version string
}
