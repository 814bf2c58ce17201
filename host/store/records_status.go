package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ferry-connect/ferry/internal/jackson"
)

// StatusKind is the kind of a status topic record, named by its key.
type StatusKind uint8

// Status record kinds, with their keys.
const (
	// StatusUnknown is a key Ferry does not know: Kafka Connect skips
	// such records, and so should the caller.
	StatusUnknown   StatusKind = iota
	StatusConnector            // status-connector-<name>
	StatusTask                 // status-task-<name>-<n>
	StatusTopic                // status-topic-<topic>:connector-<name>
)

func (k StatusKind) String() string {
	switch k {
	case StatusConnector:
		return "connector"
	case StatusTask:
		return "task"
	case StatusTopic:
		return "topic"
	}
	return "unknown"
}

const (
	statusConnectorPrefix = "status-connector-"
	statusTaskPrefix      = "status-task-"
	statusTopicPrefix     = "status-topic-"
	statusTopicSeparator  = ":connector-"
)

// StatusRecord is one record of the status topic (kafka-connect.md §4.3).
// Like ConfigRecord, it is one struct with a Kind, for one switch over the
// log and tombstones shared by every kind.
type StatusRecord struct {
	Kind StatusKind
	// Connector is the connector's name; for StatusUnknown the whole key.
	Connector string
	// Task is a StatusTask record's task id.
	Task int
	// Topic is the topic a StatusTopic key names.
	Topic string
	// Tombstone says the value is null: the connector or task is gone
	// (Kafka Connect writes DESTROYED as a tombstone), or the topic is
	// no longer active for the connector (a topic reset, or the
	// connector's deletion).
	Tombstone bool
	// Status is a StatusConnector or StatusTask record's status.
	Status Status
	// TopicStatus is a StatusTopic record's value.
	TopicStatus TopicStatus
}

// TopicStatus says a connector's task used a topic (KIP-558).
type TopicStatus struct {
	Topic     string // "name"
	Connector string
	Task      int
	// Discovered is when the task first used it, in milliseconds since
	// the epoch (discoverTimestamp).
	Discovered int64
}

// statusStates are the states Kafka Connect's AbstractStatus.State
// parses; DESTROYED is never written (a tombstone stands for it) but
// would be read.
var statusStates = []string{StateUnassigned, StateRunning, StatePaused, StateFailed, "DESTROYED", StateRestarting, StateStopped}

func (r *StatusRecord) key() (string, error) {
	if r.Connector == "" && r.Kind != StatusUnknown {
		return "", fmt.Errorf("status record of kind %v: no connector name", r.Kind)
	}
	switch r.Kind {
	case StatusConnector:
		return statusConnectorPrefix + r.Connector, nil
	case StatusTask:
		if r.Task < 0 || r.Task > 1<<31-1 {
			return "", fmt.Errorf("status record for connector %q: task id %d", r.Connector, r.Task)
		}
		return statusTaskPrefix + r.Connector + "-" + strconv.Itoa(r.Task), nil
	case StatusTopic:
		if r.Topic == "" || strings.Contains(r.Topic, ":") {
			return "", fmt.Errorf("status record for connector %q: topic %q", r.Connector, r.Topic)
		}
		return statusTopicPrefix + r.Topic + statusTopicSeparator + r.Connector, nil
	}
	return "", fmt.Errorf("status record %q: cannot encode a record of kind %v", r.Connector, r.Kind)
}

// parseStatusKey reads a key into the record's Kind, Connector, Task and
// Topic, as KafkaStatusBackingStore.read does.
func parseStatusKey(key string) (StatusRecord, error) {
	var r StatusRecord
	switch {
	case strings.HasPrefix(key, statusConnectorPrefix):
		r.Kind, r.Connector = StatusConnector, key[len(statusConnectorPrefix):]
	case strings.HasPrefix(key, statusTaskPrefix):
		var ok bool
		r.Kind = StatusTask
		if r.Connector, r.Task, ok = parseTaskKey(key[len(statusTaskPrefix):]); !ok {
			return StatusRecord{}, fmt.Errorf("status record %q: not status-task-<connector>-<task id>", key)
		}
	case strings.HasPrefix(key, statusTopicPrefix):
		// Topic names cannot hold ':', so the first one ends it.
		r.Kind = StatusTopic
		rest := key[len(statusTopicPrefix):]
		i := strings.IndexByte(rest, ':')
		if i <= 0 || !strings.HasPrefix(rest[i:], statusTopicSeparator) {
			return StatusRecord{}, fmt.Errorf("status record %q: not status-topic-<topic>:connector-<connector>", key)
		}
		r.Topic, r.Connector = rest[:i], rest[i+len(statusTopicSeparator):]
	default:
		return StatusRecord{Kind: StatusUnknown, Connector: key}, nil
	}
	if r.Connector == "" {
		return StatusRecord{}, fmt.Errorf("status record %q: no connector name", key)
	}
	return r, nil
}

// DecodeStatusRecord decodes a status topic record; value nil (or empty, or
// JSON null) is a tombstone. A key it does not know gives a StatusUnknown
// record and no error. A malformed key or value is an error that names the
// key. Records written before Kafka Connect 4.1 have no version; they
// decode with Version "".
func DecodeStatusRecord(key string, value []byte) (StatusRecord, error) {
	r, err := parseStatusKey(key)
	if err != nil {
		return StatusRecord{}, err
	}
	if r.Kind == StatusUnknown {
		return r, nil
	}
	v, ok, err := parseRecordValue(value)
	if err != nil {
		return StatusRecord{}, fmt.Errorf("status record %q: %w", key, err)
	}
	if !ok {
		r.Tombstone = true
		return r, nil
	}
	if r.Kind == StatusTopic {
		r.TopicStatus, err = decodeTopicStatus(&v)
	} else {
		r.Status, err = decodeStatus(&v)
	}
	if err != nil {
		return StatusRecord{}, fmt.Errorf("status record %q: %w", key, err)
	}
	return r, nil
}

// decodeStatus reads {"state","trace","worker_id","generation","version"}.
// As in KafkaStatusBackingStore.parseConnectorStatus, state and generation
// are required and the strings may be null or missing.
func decodeStatus(v *jsonValue) (Status, error) {
	var st Status
	var err error
	if st.State, err = stringField(v, "state"); err != nil {
		return st, err
	}
	known := false
	for _, s := range statusStates {
		known = known || st.State == s
	}
	if !known {
		return st, fmt.Errorf(`"state" is %q, not a connector or task state`, st.State)
	}
	if st.Trace, err = optionalString(v, "trace"); err != nil {
		return st, err
	}
	if st.WorkerID, err = optionalString(v, "worker_id"); err != nil {
		return st, err
	}
	gen, err := intField(v, "generation", 32)
	if err != nil {
		return st, err
	}
	st.Generation = int32(gen)
	st.Version, err = optionalString(v, "version")
	return st, err
}

// decodeTopicStatus reads {"topic":{"name","connector","task","discoverTimestamp"}}.
func decodeTopicStatus(v *jsonValue) (TopicStatus, error) {
	var ts TopicStatus
	t, err := field(v, "topic")
	if err != nil {
		return ts, err
	}
	if t.kind != jsonObject {
		return ts, fmt.Errorf(`"topic" is %s, not an object`, t.kind)
	}
	if ts.Topic, err = stringField(&t, "name"); err != nil {
		return ts, err
	}
	if ts.Connector, err = stringField(&t, "connector"); err != nil {
		return ts, err
	}
	task, err := intField(&t, "task", 32)
	if err != nil {
		return ts, err
	}
	ts.Task = int(task)
	ts.Discovered, err = intField(&t, "discoverTimestamp", 64)
	return ts, err
}

// EncodeStatusRecord returns r's key and value as Kafka Connect 4.1 writes
// them; the value is nil for a tombstone. Status fields come in
// Kafka Connect's order, with an empty trace or version written as null
// (a record for a connector that is not running has no version). It fails,
// saying why, for a record Kafka Connect would not read: an unknown kind or
// state, a missing name, a negative task id.
func EncodeStatusRecord(r StatusRecord) (string, []byte, error) {
	key, err := r.key()
	if err != nil {
		return "", nil, err
	}
	if r.Tombstone {
		return key, nil, nil
	}
	var b []byte
	if r.Kind == StatusTopic {
		ts := r.TopicStatus
		if ts.Task < -1<<31 || ts.Task > 1<<31-1 {
			return "", nil, fmt.Errorf("status record %q: task id %d", key, ts.Task)
		}
		b = append(b, `{"topic":{"name":`...)
		b = jackson.AppendString(b, ts.Topic)
		b = append(b, `,"connector":`...)
		b = jackson.AppendString(b, ts.Connector)
		b = append(b, `,"task":`...)
		b = strconv.AppendInt(b, int64(ts.Task), 10)
		b = append(b, `,"discoverTimestamp":`...)
		b = strconv.AppendInt(b, ts.Discovered, 10)
		return key, append(b, "}}"...), nil
	}
	st := r.Status
	known := false
	for _, s := range statusStates {
		known = known || st.State == s
	}
	if !known {
		return "", nil, fmt.Errorf("status record %q: state %q", key, st.State)
	}
	b = append(b, `{"state":`...)
	b = jackson.AppendString(b, st.State)
	b = append(b, `,"trace":`...)
	b = appendOptionalString(b, st.Trace)
	b = append(b, `,"worker_id":`...)
	b = jackson.AppendString(b, st.WorkerID)
	b = append(b, `,"generation":`...)
	b = strconv.AppendInt(b, int64(st.Generation), 10)
	b = append(b, `,"version":`...)
	b = appendOptionalString(b, st.Version)
	return key, append(b, '}'), nil
}
