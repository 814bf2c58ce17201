package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/ferry-connect/ferry/internal/jackson"
)

// ConfigKind is the kind of a config topic record, named by its key.
type ConfigKind uint8

// Config record kinds, with their keys.
const (
	// ConfigUnknown is a key Ferry does not know: Kafka Connect skips
	// such records, and so should the caller.
	ConfigUnknown     ConfigKind = iota
	ConfigConnector              // connector-<name>
	ConfigTask                   // task-<name>-<n>
	ConfigCommit                 // commit-<name>
	ConfigTargetState            // target-state-<name>
	ConfigRestart                // restart-connector-<name>
	ConfigSessionKey             // session-key
	ConfigTaskCount              // tasks-fencing-<name>
	ConfigLoggerLevel            // logger-cluster-<namespace>
)

func (k ConfigKind) String() string {
	switch k {
	case ConfigConnector:
		return "connector"
	case ConfigTask:
		return "task"
	case ConfigCommit:
		return "commit"
	case ConfigTargetState:
		return "target-state"
	case ConfigRestart:
		return "restart"
	case ConfigSessionKey:
		return "session-key"
	case ConfigTaskCount:
		return "tasks-fencing"
	case ConfigLoggerLevel:
		return "logger-cluster"
	}
	return "unknown"
}

// Key prefixes, checked in Kafka Connect's order
// (KafkaConfigBackingStore.ConsumeCallback).
const (
	targetStatePrefix = "target-state-"
	connectorPrefix   = "connector-"
	taskPrefix        = "task-"
	commitPrefix      = "commit-"
	restartPrefix     = "restart-connector-"
	taskCountPrefix   = "tasks-fencing-"
	sessionKeyKey     = "session-key"
	loggerPrefix      = "logger-cluster-"
)

// ConfigRecord is one record of the config topic (kafka-connect.md §4.1).
//
// It is one struct with a Kind, not a type per kind: the topic is one
// ordered log that its reader replays through one switch on Kind; every
// kind can be tombstoned, so Tombstone is one field rather than one per
// type; and all kinds but session-key name a connector. Each kind uses one
// or two of the other fields, and the rest stay zero (decoders leave them
// so, encoders ignore them). A record is thus a plain value, written as
// ConfigRecord{Kind: ConfigCommit, Name: "c", Tasks: 2} and compared with
// reflect.DeepEqual, with no interface to type-switch on twice.
type ConfigRecord struct {
	Kind ConfigKind
	// Name is the connector's name; for ConfigLoggerLevel the logging
	// namespace; for ConfigUnknown the whole key; empty for
	// ConfigSessionKey.
	Name string
	// Task is a ConfigTask record's task id.
	Task int
	// Tombstone says the value is null. For ConfigConnector it deletes
	// the connector; for ConfigTargetState it removes the target state
	// (the connector, if it still exists, is STARTED). Kafka Connect
	// ignores tombstones of the other kinds.
	Tombstone bool
	// Properties is the config of ConfigConnector and ConfigTask.
	Properties Properties
	// Tasks is the task count of ConfigCommit ("tasks") and
	// ConfigTaskCount ("task-count").
	Tasks int
	// Target is ConfigTargetState's state.
	Target TargetState
	// IncludeTasks and OnlyFailed are ConfigRestart's request.
	IncludeTasks bool
	OnlyFailed   bool
	// SessionKey is ConfigSessionKey's key.
	SessionKey SessionKey
	// Level is ConfigLoggerLevel's level (DEBUG, INFO, ...).
	Level string
}

// SessionKey is the key workers sign internal REST requests with (KIP-507).
type SessionKey struct {
	Key       []byte
	Algorithm string // a javax.crypto Mac algorithm, HmacSHA256 by default
	// Created is when the key was made, in milliseconds since the epoch
	// (creation-timestamp).
	Created int64
}

// key returns the record's key.
func (r *ConfigRecord) key() (string, error) {
	var prefix string
	switch r.Kind {
	case ConfigSessionKey:
		return sessionKeyKey, nil
	case ConfigTask:
		if r.Task < 0 || r.Task > 1<<31-1 {
			return "", fmt.Errorf("config record for connector %q: task id %d", r.Name, r.Task)
		}
		if r.Name == "" {
			return "", fmt.Errorf("config record for task %d: no connector name", r.Task)
		}
		return taskPrefix + r.Name + "-" + strconv.Itoa(r.Task), nil
	case ConfigConnector:
		prefix = connectorPrefix
	case ConfigCommit:
		prefix = commitPrefix
	case ConfigTargetState:
		prefix = targetStatePrefix
	case ConfigRestart:
		prefix = restartPrefix
	case ConfigTaskCount:
		prefix = taskCountPrefix
	case ConfigLoggerLevel:
		prefix = loggerPrefix
	default:
		return "", fmt.Errorf("config record %q: cannot encode a record of kind %v", r.Name, r.Kind)
	}
	if r.Name == "" {
		return "", fmt.Errorf("config record of kind %v: no name", r.Kind)
	}
	return prefix + r.Name, nil
}

// parseConfigKey reads a key into the record's Kind, Name and Task.
func parseConfigKey(key string) (ConfigRecord, error) {
	r := ConfigRecord{Name: key}
	var ok bool
	switch {
	case strings.HasPrefix(key, targetStatePrefix):
		r.Kind, r.Name = ConfigTargetState, key[len(targetStatePrefix):]
	case strings.HasPrefix(key, connectorPrefix):
		r.Kind, r.Name = ConfigConnector, key[len(connectorPrefix):]
	case strings.HasPrefix(key, taskPrefix):
		r.Kind = ConfigTask
		if r.Name, r.Task, ok = parseTaskKey(key[len(taskPrefix):]); !ok {
			return r, fmt.Errorf("config record %q: not task-<connector>-<task id>", key)
		}
	case strings.HasPrefix(key, commitPrefix):
		r.Kind, r.Name = ConfigCommit, key[len(commitPrefix):]
	case strings.HasPrefix(key, restartPrefix):
		r.Kind, r.Name = ConfigRestart, key[len(restartPrefix):]
	case strings.HasPrefix(key, taskCountPrefix):
		r.Kind, r.Name = ConfigTaskCount, key[len(taskCountPrefix):]
	case key == sessionKeyKey:
		r.Kind, r.Name = ConfigSessionKey, ""
	case strings.HasPrefix(key, loggerPrefix):
		r.Kind, r.Name = ConfigLoggerLevel, key[len(loggerPrefix):]
	default:
		return ConfigRecord{Kind: ConfigUnknown, Name: key}, nil
	}
	if r.Name == "" && r.Kind != ConfigSessionKey {
		return r, fmt.Errorf("config record %q: no name after the prefix", key)
	}
	return r, nil
}

// parseTaskKey splits "<connector>-<n>" at its last '-': connector names
// may hold '-', task ids do not. The id is a canonical int32 >= 0 ("0",
// "12"; not "012" or "+1", which Java's Integer.parseInt would take but
// Kafka Connect never writes).
func parseTaskKey(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", 0, false
	}
	id := s[i+1:]
	if id == "" || id[0] < '0' || id[0] > '9' || (id[0] == '0' && len(id) > 1) {
		return "", 0, false
	}
	n, err := strconv.ParseInt(id, 10, 32)
	if err != nil {
		return "", 0, false
	}
	return s[:i], int(n), true
}

// DecodeConfigRecord decodes a config topic record; value nil (or empty, or
// JSON null) is a tombstone. A key it does not know gives a ConfigUnknown
// record and no error. A malformed key or value is an error that names the
// key.
func DecodeConfigRecord(key string, value []byte) (ConfigRecord, error) {
	r, err := parseConfigKey(key)
	if err != nil {
		return ConfigRecord{}, err
	}
	if r.Kind == ConfigUnknown {
		return r, nil
	}
	v, ok, err := parseRecordValue(value)
	if err != nil {
		return ConfigRecord{}, fmt.Errorf("config record %q: %w", key, err)
	}
	if !ok {
		r.Tombstone = true
		return r, nil
	}
	if err := r.decodeValue(&v); err != nil {
		return ConfigRecord{}, fmt.Errorf("config record %q: %w", key, err)
	}
	return r, nil
}

func (r *ConfigRecord) decodeValue(v *jsonValue) error {
	var err error
	switch r.Kind {
	case ConfigConnector, ConfigTask:
		r.Properties, err = decodeProperties(v)
	case ConfigCommit:
		var n int64
		n, err = intField(v, "tasks", 32)
		r.Tasks = int(n)
	case ConfigTaskCount:
		var n int64
		n, err = intField(v, "task-count", 32)
		r.Tasks = int(n)
	case ConfigTargetState:
		r.Target, err = decodeTargetState(v)
	case ConfigRestart:
		if r.IncludeTasks, err = boolField(v, "include-tasks"); err == nil {
			r.OnlyFailed, err = boolField(v, "only-failed")
		}
	case ConfigSessionKey:
		r.SessionKey, err = decodeSessionKey(v)
	case ConfigLoggerLevel:
		r.Level, err = stringField(v, "level")
	}
	if err == nil && (r.Kind == ConfigCommit || r.Kind == ConfigTaskCount) && r.Tasks < 0 {
		err = fmt.Errorf("negative task count %d", r.Tasks)
	}
	return err
}

func decodeProperties(v *jsonValue) (Properties, error) {
	f, err := field(v, "properties")
	if err != nil {
		return nil, err
	}
	if f.kind != jsonObject {
		return nil, fmt.Errorf(`"properties" is %s, not an object`, f.kind)
	}
	p := make(Properties, 0, len(f.members))
	for _, m := range f.members {
		switch m.value.kind {
		case jsonString:
			p = append(p, Property{Key: m.name, Value: m.value.s})
		case jsonNull:
			p = append(p, Property{Key: m.name, Null: true})
		default:
			return nil, fmt.Errorf("property %q is %s, not a string", m.name, m.value.kind)
		}
	}
	return p, nil
}

// decodeTargetState reads state.v2, or state if the record has none (it
// was written by a worker older than 3.5, which knew no STOPPED).
func decodeTargetState(v *jsonValue) (TargetState, error) {
	name := "state.v2"
	if f, ok := v.get(name); !ok || f.kind == jsonNull {
		name = "state"
	}
	s, err := stringField(v, name)
	if err != nil {
		return "", err
	}
	switch t := TargetState(s); t {
	case Started, Paused, Stopped:
		return t, nil
	}
	return "", fmt.Errorf("%q is %q, not STARTED, PAUSED or STOPPED", name, s)
}

func decodeSessionKey(v *jsonValue) (SessionKey, error) {
	var k SessionKey
	b64, err := stringField(v, "key")
	if err != nil {
		return k, err
	}
	// Java's Base64 decoder takes the padding as optional.
	if k.Key, err = base64.StdEncoding.DecodeString(b64); err != nil {
		if k.Key, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return k, fmt.Errorf(`"key" is not base64: %w`, err)
		}
	}
	if k.Algorithm, err = stringField(v, "algorithm"); err != nil {
		return k, err
	}
	k.Created, err = intField(v, "creation-timestamp", 64)
	return k, err
}

// EncodeConfigRecord returns r's key and value as Kafka Connect 4.1 writes
// them; the value is nil for a tombstone. A target state is written with
// state.v2 and, for workers that know no STOPPED, state PAUSED in its
// place. It fails, saying why, for a record no Kafka Connect reader would
// take (an unknown kind, a missing name, a negative task id or count, a
// target state that is not one).
func EncodeConfigRecord(r ConfigRecord) (string, []byte, error) {
	key, err := r.key()
	if err != nil {
		return "", nil, err
	}
	if r.Tombstone {
		return key, nil, nil
	}
	var b []byte
	switch r.Kind {
	case ConfigConnector, ConfigTask:
		b = append(b, `{"properties":`...)
		b = appendProperties(b, r.Properties)
		b = append(b, '}')
	case ConfigCommit, ConfigTaskCount:
		if r.Tasks < 0 || r.Tasks > 1<<31-1 {
			return "", nil, fmt.Errorf("config record %q: task count %d", key, r.Tasks)
		}
		if r.Kind == ConfigCommit {
			b = append(b, `{"tasks":`...)
		} else {
			b = append(b, `{"task-count":`...)
		}
		b = strconv.AppendInt(b, int64(r.Tasks), 10)
		b = append(b, '}')
	case ConfigTargetState:
		old := r.Target
		switch r.Target {
		case Started, Paused:
		case Stopped:
			old = Paused
		default:
			return "", nil, fmt.Errorf("config record %q: target state %q", key, r.Target)
		}
		b = append(b, `{"state":`...)
		b = jackson.AppendString(b, string(old))
		b = append(b, `,"state.v2":`...)
		b = jackson.AppendString(b, string(r.Target))
		b = append(b, '}')
	case ConfigRestart:
		b = append(b, `{"include-tasks":`...)
		b = strconv.AppendBool(b, r.IncludeTasks)
		b = append(b, `,"only-failed":`...)
		b = strconv.AppendBool(b, r.OnlyFailed)
		b = append(b, '}')
	case ConfigSessionKey:
		b = append(b, `{"key":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.SessionKey.Key)
		b = append(b, `","algorithm":`...)
		b = jackson.AppendString(b, r.SessionKey.Algorithm)
		b = append(b, `,"creation-timestamp":`...)
		b = strconv.AppendInt(b, r.SessionKey.Created, 10)
		b = append(b, '}')
	case ConfigLoggerLevel:
		b = append(b, `{"level":`...)
		b = jackson.AppendString(b, r.Level)
		b = append(b, '}')
	}
	return key, b, nil
}
