package sdk

import (
	"context"
	"time"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

// SourceConnector declares a source connector class: its names, its
// configuration and how to make its tasks. Only Class, Config and Open are
// required.
type SourceConnector struct {
	// Class is the canonical class name, e.g.
	// org.apache.kafka.connect.file.FileStreamSourceConnector.
	Class string
	// Aliases are other names users may give as connector.class.
	Aliases []string
	// TaskClass is reported as task.class in task configurations.
	TaskClass string
	Version   string
	Config    []ConfigDef
	// Validate checks the resolved configuration beyond single keys.
	Validate func(cfg Config) []ConfigError
	// TaskConfigs splits the work into at most max tasks. When nil, the
	// connector runs one task with its own configuration.
	TaskConfigs func(cfg Config, max int) ([]Config, error)
	// Start, when set, runs when the connector starts; ctx ends when it
	// stops. A connector that watches its source for changes (new tables,
	// new files) keeps a goroutine on ctx and calls cc to ask for new task
	// configurations.
	Start func(ctx context.Context, cfg Config, cc *ConnectorContext) error
	// Open starts one task. offsets holds the last committed offset of
	// each source partition this connector has written, keyed by the
	// partition's JSON; look yours up with Offsets.Get.
	Open func(ctx context.Context, cfg Config, offsets Offsets) (SourceTask, error)
}

// SourceTask reads records from an external system.
type SourceTask interface {
	// Poll blocks until records are ready or ctx is done, and returns them.
	// It may return no records. On ctx cancellation it returns ctx.Err().
	// Wrap a transient failure with Retryable; any other error fails the
	// task.
	//
	// The SDK is done with the records, and with everything they refer to
	// (offset maps, values, the slice itself), by the time it calls Poll
	// again: a busy task may reuse them then instead of allocating anew.
	Poll(ctx context.Context) ([]SourceRecord, error)
	// Close releases the task's resources; it is called once.
	Close() error
}

// SourceCommitter is implemented by source tasks that must confirm records
// upstream. Commit is called with the latest offset per source partition
// once every record up to it is in Kafka and the offsets are stored.
type SourceCommitter interface {
	Commit(ctx context.Context, offsets []Offset) error
}

// SourceRecord is one record read by a source task.
type SourceRecord struct {
	// Partition names the source partition, e.g. {"filename": "in.txt"}.
	Partition map[string]any
	// Offset is the position after this record in Partition, e.g.
	// {"position": 42}.
	Offset map[string]any
	Topic  string
	// KafkaPartition picks a Kafka partition; nil lets the producer choose.
	KafkaPartition *int32
	KeySchema      *Schema
	Key            any
	ValueSchema    *Schema
	Value          any
	// Timestamp is left zero to let Kafka assign it.
	Timestamp time.Time
	Headers   []Header
}

// Offset is the stored offset of one source partition.
type Offset struct {
	Partition map[string]any
	Offset    map[string]any
}

// SinkConnector declares a sink connector class.
type SinkConnector struct {
	Class       string
	Aliases     []string
	TaskClass   string
	Version     string
	Config      []ConfigDef
	Validate    func(cfg Config) []ConfigError
	TaskConfigs func(cfg Config, max int) ([]Config, error)
	// Start is as SourceConnector's.
	Start func(ctx context.Context, cfg Config, cc *ConnectorContext) error
	// Open starts one task.
	Open func(ctx context.Context, cfg Config) (SinkTask, error)
}

// TopicPartition names a Kafka partition, with an offset where one applies
// (the next offset to consume).
type TopicPartition struct {
	Topic     string
	Partition int32
	Offset    int64
}

// SinkPartitionWatcher is implemented by sink tasks that keep per-partition
// state (writers, files). Assigned runs before records of new partitions
// arrive; Revoked runs after the last flush of partitions leaving the task.
type SinkPartitionWatcher interface {
	Assigned(ctx context.Context, partitions []TopicPartition) error
	Revoked(ctx context.Context, partitions []TopicPartition) error
}

// SinkPreCommitter is implemented by sink tasks that decide themselves which
// offsets are safe to commit (Kafka Connect's preCommit). It replaces Flush
// at commit time: given the offsets consumed so far, it returns the offsets
// the host may commit.
type SinkPreCommitter interface {
	PreCommit(ctx context.Context, offsets []TopicPartition) ([]TopicPartition, error)
}

// ConnectorContext lets a running connector reach the host. It is safe for
// concurrent use.
type ConnectorContext struct {
	events chan *pb.ConnectorEvent
	done   <-chan struct{} // the connector's ctx
}

// RequestTaskReconfiguration asks the host to call TaskConfigs again and
// restart the tasks if their configurations changed.
func (c *ConnectorContext) RequestTaskReconfiguration() {
	c.send(&pb.ConnectorEvent{Event: &pb.ConnectorEvent_RequestReconfiguration{RequestReconfiguration: &pb.RequestReconfiguration{}}})
}

// RaiseError fails the connector with err; the host restarts it. It waits
// until the host has the error, or the connector has stopped.
func (c *ConnectorContext) RaiseError(err error) {
	select {
	case c.events <- &pb.ConnectorEvent{Event: &pb.ConnectorEvent_Error{Error: err.Error()}}:
	case <-c.done:
	}
}

// send queues a reconfiguration request; one already pending covers it.
func (c *ConnectorContext) send(ev *pb.ConnectorEvent) {
	select {
	case c.events <- ev:
	default:
	}
}

// SinkTask writes records to an external system.
type SinkTask interface {
	// Put receives records in Kafka order per partition. It may buffer.
	Put(ctx context.Context, records []SinkRecord) error
	// Flush makes every record put so far durable; the host commits their
	// Kafka offsets only after Flush returns nil.
	Flush(ctx context.Context) error
	// Close releases the task's resources; it is called once.
	Close() error
}

// SinkRecordsReuser is implemented by sink tasks that keep nothing of a
// put's records once Put returns: they write or copy what they need, and
// buffer nothing else. The SDK then decodes every put into the same
// records and the same receive buffer instead of allocating both anew
// (hundreds of KiB per put). A task that keeps records, or anything they
// refer to (keys, values, headers, schemas), past Put must not implement
// it.
type SinkRecordsReuser interface {
	ReusesRecords()
}

// SinkRecord is one record delivered to a sink task.
type SinkRecord struct {
	Topic       string
	Partition   int32
	Offset      int64
	KeySchema   *Schema
	Key         any
	ValueSchema *Schema
	Value       any
	Timestamp   time.Time
	Headers     []Header
}
