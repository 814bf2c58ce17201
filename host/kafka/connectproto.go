package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Kafka Connect's group protocol, as its WorkerCoordinator speaks it:
// workers join a group with protocol type "connect", offering protocols
// in order of preference; a worker's metadata (its subscription) says
// where its REST API is, how far it has read the config topic and, from
// version 1 on, what it runs now; the leader's assignment says what each
// worker runs. All of it in Kafka's protocol types: big-endian integers,
// strings with an int16 length, arrays and nullable bytes with an int32
// length (-1 for null).
const (
	// ConnectProtocolType is the protocol type of a Connect group.
	ConnectProtocolType = "connect"
	// The protocols: sessioned (version 2: incremental cooperative with
	// signed internal requests), compatible (version 1: incremental
	// cooperative), default (version 0: eager).
	ProtocolSessioned  = "sessioned"
	ProtocolCompatible = "compatible"
	ProtocolEager      = "default"
)

// ConnectorTask is the task id that stands for a connector instance in an
// assignment's task lists.
const ConnectorTask = -1

// TaskID names one task of a connector.
type TaskID struct {
	Connector string
	Task      int32
}

// WorkerState is a worker's subscription: its metadata in a JoinGroup.
type WorkerState struct {
	// Version is 0 (eager), 1 (compatible) or 2 (sessioned).
	Version int16
	// URL is the worker's REST API, where its peers forward requests.
	URL string
	// ConfigOffset is how far the worker has read the config topic.
	ConfigOffset int64
	// Assignment is what the worker runs now (versions 1 and 2); nil for
	// none.
	Assignment *ConnectAssignment
}

// ConnectAssignment is what the leader assigns one worker.
type ConnectAssignment struct {
	// Version is the protocol version it is encoded in (0, 1 or 2).
	Version int16
	// Error is 0, or 1 (CONFIG_MISMATCH: the leader could not read the
	// config topic as far as a member had).
	Error        int16
	Leader       string
	LeaderURL    string
	ConfigOffset int64
	// Connectors and Tasks are assigned (from version 1: newly).
	Connectors []string
	Tasks      []TaskID
	// RevokedConnectors and RevokedTasks are to stop (version 1 on).
	RevokedConnectors []string
	RevokedTasks      []TaskID
	// Delay is the scheduled rebalance delay in ms (version 1 on).
	Delay int32
}

// AssignmentError values.
const (
	AssignmentNoError        = 0
	AssignmentConfigMismatch = 1
)

// EncodeSubscription encodes a worker's metadata for a JoinGroup.
func EncodeSubscription(s WorkerState) []byte {
	b := appendInt16(nil, s.Version)
	b = appendString(b, s.URL)
	b = appendInt64(b, s.ConfigOffset)
	if s.Version == 0 {
		return b
	}
	if s.Assignment == nil {
		return appendInt32(b, -1)
	}
	a := *s.Assignment
	a.Version = s.Version
	enc := EncodeAssignment(a)
	b = appendInt32(b, int32(len(enc)))
	return append(b, enc...)
}

// DecodeSubscription decodes a worker's metadata. As Kafka Connect, it
// reads what a newer version adds only as far as it knows it, and takes a
// missing allocation as none.
func DecodeSubscription(b []byte) (WorkerState, error) {
	r := reader{b: b}
	s := WorkerState{Version: r.int16()}
	if r.err == nil && s.Version < 0 {
		return s, fmt.Errorf("connect subscription: unsupported version %d", s.Version)
	}
	s.URL = r.string()
	s.ConfigOffset = r.int64()
	if r.err != nil {
		return s, fmt.Errorf("connect subscription: %w", r.err)
	}
	if s.Version == 0 || r.done() {
		return s, nil
	}
	alloc := r.nullableBytes()
	if r.err != nil {
		return s, fmt.Errorf("connect subscription: allocation: %w", r.err)
	}
	if alloc != nil {
		a, err := DecodeAssignment(alloc)
		if err != nil {
			return s, fmt.Errorf("connect subscription: allocation: %w", err)
		}
		s.Assignment = &a
	}
	return s, nil
}

// EncodeAssignment encodes an assignment for a SyncGroup, in a.Version's
// schema. Each connector comes first with task -1, then its tasks, as
// Kafka Connect lists them.
func EncodeAssignment(a ConnectAssignment) []byte {
	b := appendInt16(nil, a.Version)
	b = appendInt16(b, a.Error)
	b = appendString(b, a.Leader)
	b = appendString(b, a.LeaderURL)
	b = appendInt64(b, a.ConfigOffset)
	b = appendWork(b, a.Connectors, a.Tasks)
	if a.Version == 0 {
		return b
	}
	b = appendWork(b, a.RevokedConnectors, a.RevokedTasks)
	return appendInt32(b, a.Delay)
}

// DecodeAssignment decodes an assignment. Fields a version-1 assignment
// may lack (the lists, the delay) are empty or zero when missing, as in
// Kafka Connect.
func DecodeAssignment(b []byte) (ConnectAssignment, error) {
	r := reader{b: b}
	a := ConnectAssignment{Version: r.int16()}
	if r.err == nil && a.Version < 0 {
		return a, fmt.Errorf("connect assignment: unsupported version %d", a.Version)
	}
	a.Error = r.int16()
	a.Leader = r.string()
	a.LeaderURL = r.string()
	a.ConfigOffset = r.int64()
	if r.err != nil {
		return a, fmt.Errorf("connect assignment: %w", r.err)
	}
	if a.Version == 0 {
		a.Connectors, a.Tasks = r.work(false)
		if r.err != nil {
			return a, fmt.Errorf("connect assignment: %w", r.err)
		}
		return a, nil
	}
	if !r.done() {
		a.Connectors, a.Tasks = r.work(true)
	}
	if !r.done() {
		a.RevokedConnectors, a.RevokedTasks = r.work(true)
	}
	if !r.done() {
		a.Delay = r.int32()
	}
	if r.err != nil {
		return a, fmt.Errorf("connect assignment: %w", r.err)
	}
	return a, nil
}

// appendWork appends connectors and tasks as an array of
// ConnectorAssignment{connector string, tasks []int32}.
func appendWork(b []byte, connectors []string, tasks []TaskID) []byte {
	type entry struct {
		connector string
		tasks     []int32
	}
	var entries []*entry
	byName := map[string]*entry{}
	get := func(name string) *entry {
		e := byName[name]
		if e == nil {
			e = &entry{connector: name}
			byName[name] = e
			entries = append(entries, e)
		}
		return e
	}
	for _, c := range connectors {
		if e := get(c); len(e.tasks) == 0 || e.tasks[0] != ConnectorTask {
			e.tasks = append(e.tasks, ConnectorTask)
		}
	}
	for _, t := range tasks {
		e := get(t.Connector)
		e.tasks = append(e.tasks, t.Task)
	}
	b = appendInt32(b, int32(len(entries)))
	for _, e := range entries {
		b = appendString(b, e.connector)
		b = appendInt32(b, int32(len(e.tasks)))
		for _, t := range e.tasks {
			b = appendInt32(b, t)
		}
	}
	return b
}

func appendInt16(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func appendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func appendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func appendString(b []byte, s string) []byte {
	if len(s) > math.MaxInt16 {
		s = s[:math.MaxInt16] // never for a URL or a connector name
	}
	b = appendInt16(b, int16(len(s)))
	return append(b, s...)
}

// reader reads Kafka protocol types; the first error sticks and later
// reads return zero values.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("message ends early")

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errShort
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// done reports whether everything has been read (or reading failed).
func (r *reader) done() bool { return r.err != nil || len(r.b) == 0 }

func (r *reader) int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *reader) int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *reader) int64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (r *reader) string() string {
	n := r.int16()
	if r.err == nil && n < 0 {
		r.err = fmt.Errorf("string length %d", n)
		return ""
	}
	return string(r.take(int(n)))
}

func (r *reader) nullableBytes() []byte {
	n := r.int32()
	if r.err != nil || n == -1 {
		return nil
	}
	if b := r.take(int(n)); b != nil {
		return append([]byte{}, b...)
	}
	return nil
}

// work reads an array of ConnectorAssignment into connectors (task -1)
// and tasks; nullable says whether -1 (null) is allowed.
func (r *reader) work(nullable bool) (connectors []string, tasks []TaskID) {
	n := r.int32()
	switch {
	case r.err != nil:
		return nil, nil
	case n == -1 && nullable:
		return nil, nil
	case n < 0 || int(n) > len(r.b)/6: // each entry is at least 6 bytes
		r.err = fmt.Errorf("array length %d", n)
		return nil, nil
	}
	for range n {
		name := r.string()
		m := r.int32()
		if r.err == nil && (m < 0 || int(m) > len(r.b)/4) {
			r.err = fmt.Errorf("task array length %d", m)
		}
		if r.err != nil {
			return nil, nil
		}
		for range m {
			if t := r.int32(); t == ConnectorTask {
				connectors = append(connectors, name)
			} else {
				tasks = append(tasks, TaskID{Connector: name, Task: t})
			}
		}
	}
	return connectors, tasks
}
