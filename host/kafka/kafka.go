// Package kafka is Ferry's only user of the Kafka client
// (confluent-kafka-go, librdkafka): a producer for source tasks and a
// consumer for sink tasks, tuned the way Kafka Connect tunes its own.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// LibraryVersion returns the linked librdkafka's version.
func LibraryVersion() string {
	_, v := ck.LibraryVersion()
	return v
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is one record read from Kafka.
type Message struct {
	Topic         string
	Partition     int32
	Offset        int64
	Key, Value    []byte
	Headers       []Header
	Timestamp     time.Time
	LogAppendTime bool
}

// TopicPartition is a partition with an offset (the next one to read, for
// commits).
type TopicPartition struct {
	Topic     string
	Partition int32
	Offset    int64
}

// ErrQueueFull is returned by Produce when the local queue is full: drain
// deliveries, then retry.
var ErrQueueFull = errors.New("producer queue is full")

func configMap(base map[string]string, overrides map[string]string) *ck.ConfigMap {
	m := ck.ConfigMap{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range overrides {
		m[k] = v
	}
	return &m
}

// Delivery reports the outcome of Count consecutive records of one
// partition. Reports for a partition arrive in the order its records were
// produced (the producer is idempotent), which is how callers match them
// to their records: a per-record opaque costs the Go client a map entry per
// message. Successes that arrive together are reported together; a failure
// is reported alone, with Count 1.
type Delivery struct {
	Topic     string
	Partition int32
	Count     int
	Err       error
}

// Producer produces records and reports each delivery in order of
// completion. Produce is for one goroutine at a time.
type Producer struct {
	p          *ck.Producer
	deliveries chan []Delivery
	done       chan struct{}
	// msg is reused by every Produce: the client copies what it needs
	// before returning, and a fresh message (and topic) cost two
	// allocations per record.
	msg   ck.Message
	topic string
}

// maxDeliveryBatch bounds the records whose reports are handed over at once.
const maxDeliveryBatch = 4096

// NewProducer makes a producer. Ferry forces acks=all and idempotence, so
// retries never reorder or duplicate a partition's records; overrides are
// the worker's producer.* settings.
func NewProducer(bootstrap, clientID string, overrides map[string]string) (*Producer, error) {
	cfg := configMap(map[string]string{
		"bootstrap.servers": bootstrap,
		"client.id":         clientID,
		"linger.ms":         "5",
		// At most 20k records queued (librdkafka: 100k): enough to keep
		// full batches in flight, and it bounds a source task's memory.
		"queue.buffering.max.messages": "20000",
		"enable.metrics.push":          "false",
	}, overrides)
	for k, v := range map[string]any{"acks": "all", "enable.idempotence": true, "go.delivery.reports": true, "go.delivery.report.fields": "none",
		// The Go client allocates these channels up front (1M entries
		// each by default: 24 MiB). drain reads events as they come, and
		// the produce channel is not used.
		"go.events.channel.size": maxDeliveryBatch, "go.produce.channel.size": 0} {
		(*cfg)[k] = v
	}
	p, err := ck.NewProducer(cfg)
	if err != nil {
		return nil, fmt.Errorf("create producer %s: %w", clientID, err)
	}
	pr := &Producer{p: p, deliveries: make(chan []Delivery, 16), done: make(chan struct{})}
	go pr.drain()
	return pr, nil
}

// drain turns librdkafka's delivery events into batches of Deliveries:
// every report ready at the time, a partition's consecutive successes
// counted as one, so a busy producer wakes its reader once per batch rather
// than once per record. It ends when Close closes the producer's event
// channel.
func (pr *Producer) drain() {
	defer close(pr.done)
	defer close(pr.deliveries)
	events := pr.p.Events()
	for ev := range events {
		batch := appendDelivery(nil, ev)
	more:
		for range maxDeliveryBatch - 1 {
			select {
			case ev, ok := <-events:
				if !ok {
					break more
				}
				batch = appendDelivery(batch, ev)
			default:
				break more
			}
		}
		if len(batch) > 0 {
			pr.deliveries <- batch
		}
	}
}

func appendDelivery(batch []Delivery, ev ck.Event) []Delivery {
	m, ok := ev.(*ck.Message)
	if !ok {
		return batch
	}
	tp := m.TopicPartition
	if n := len(batch); n > 0 && tp.Error == nil {
		if last := &batch[n-1]; last.Err == nil && last.Partition == tp.Partition && last.Topic == *tp.Topic {
			last.Count++
			return batch
		}
	}
	return append(batch, Delivery{Topic: *tp.Topic, Partition: tp.Partition, Count: 1, Err: tp.Error})
}

// Deliveries returns the channel of delivery reports, in batches of those
// that arrived together. It is closed by Close.
func (pr *Producer) Deliveries() <-chan []Delivery { return pr.deliveries }

// EnsureTopic creates topic with the broker's default partitions and
// replication if it does not exist yet. Creating it explicitly, instead of
// relying on auto-creation, works on brokers where auto-creation is off and
// makes the embedded broker persist the topic at once.
func (pr *Producer) EnsureTopic(ctx context.Context, topic string) error {
	admin, err := ck.NewAdminClientFromProducer(pr.p)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := admin.CreateTopics(ctx, []ck.TopicSpecification{{Topic: topic, NumPartitions: -1, ReplicationFactor: -1}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for _, r := range res {
		if code := r.Error.Code(); code != ck.ErrNoError && code != ck.ErrTopicAlreadyExists {
			return fmt.Errorf("create topic %s: %w", topic, r.Error)
		}
	}
	return nil
}

// Partitions returns how many partitions topic has.
func (pr *Producer) Partitions(topic string) (int32, error) {
	md, err := pr.p.GetMetadata(&topic, false, 30000)
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	t, ok := md.Topics[topic]
	if !ok || t.Error.Code() != ck.ErrNoError || len(t.Partitions) == 0 {
		return 0, fmt.Errorf("metadata of %s: topic not found (%v)", topic, t.Error)
	}
	return int32(len(t.Partitions)), nil
}

// Produce queues one record for partition (callers choose it: see
// Partition); ts zero lets Kafka stamp it.
func (pr *Producer) Produce(topic string, partition int32, key, value []byte, headers []Header, ts time.Time) error {
	pr.topic = topic
	msg := &pr.msg
	msg.TopicPartition = ck.TopicPartition{Topic: &pr.topic, Partition: partition}
	msg.Key, msg.Value, msg.Timestamp = key, value, ts
	msg.Headers = msg.Headers[:0]
	for _, h := range headers {
		msg.Headers = append(msg.Headers, ck.Header{Key: h.Key, Value: h.Value})
	}
	err := pr.p.Produce(msg, nil)
	// Drop the references, so the caller's buffers are not kept alive.
	msg.Key, msg.Value = nil, nil
	clear(msg.Headers)
	if err == nil {
		return nil
	}
	var kerr ck.Error // escapes to errors.As: only on the error path
	if errors.As(err, &kerr) && kerr.Code() == ck.ErrQueueFull {
		return ErrQueueFull
	}
	return fmt.Errorf("produce to %s: %w", topic, err)
}

// Close waits up to timeout for queued records, then closes the producer.
// Deliveries keep arriving until Close returns: the caller must drain the
// channel concurrently.
func (pr *Producer) Close(timeout time.Duration) {
	pr.p.Flush(int(timeout.Milliseconds()))
	pr.p.Close()
	<-pr.done
}

// CloseDiscarding is Close for a producer whose deliveries nobody reads
// any more: it drains them meanwhile.
func (pr *Producer) CloseDiscarding(timeout time.Duration) {
	go func() {
		for range pr.Deliveries() {
		}
	}()
	pr.Close(timeout)
}

// Consumer reads a group's share of topics.
type Consumer struct {
	c *ck.Consumer
}

// Rebalance is told of partitions assigned to or revoked from a consumer;
// it runs inside Poll.
type Rebalance func(assigned bool, parts []TopicPartition)

// NewConsumer makes a consumer in group, committing only by hand and
// starting at the earliest offset, as Kafka Connect's sink consumers do.
func NewConsumer(bootstrap, group, clientID string, overrides map[string]string) (*Consumer, error) {
	cfg := configMap(map[string]string{
		"bootstrap.servers":   bootstrap,
		"client.id":           clientID,
		"auto.offset.reset":   "earliest",
		"enable.metrics.push": "false",
		// librdkafka's default of 1000 ms caps a poll loop near 130k
		// records/s; see docs/benchmarks.md.
		"fetch.queue.backoff.ms": "10",
		// Prefetch at most 4 MiB (librdkafka: 64 MiB), fetched 4 MiB at a
		// time (librdkafka: 50 MiB).
		"queued.max.messages.kbytes": "4096",
		"fetch.max.bytes":            "4194304",
	}, overrides)
	(*cfg)["group.id"] = group
	(*cfg)["enable.auto.commit"] = false
	(*cfg)["go.application.rebalance.enable"] = false
	c, err := ck.NewConsumer(cfg)
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", clientID, err)
	}
	return &Consumer{c: c}, nil
}

// Subscribe subscribes to topics; onRebalance may be nil.
func (c *Consumer) Subscribe(topics []string, onRebalance Rebalance) error {
	var cb ck.RebalanceCb
	if onRebalance != nil {
		cb = func(_ *ck.Consumer, ev ck.Event) error {
			switch e := ev.(type) {
			case ck.AssignedPartitions:
				onRebalance(true, fromCK(e.Partitions))
			case ck.RevokedPartitions:
				onRebalance(false, fromCK(e.Partitions))
			}
			return nil
		}
	}
	if err := c.c.SubscribeTopics(topics, cb); err != nil {
		return fmt.Errorf("subscribe to %v: %w", topics, err)
	}
	return nil
}

func fromCK(parts []ck.TopicPartition) []TopicPartition {
	out := make([]TopicPartition, len(parts))
	for i, p := range parts {
		out[i] = TopicPartition{Topic: *p.Topic, Partition: p.Partition, Offset: int64(p.Offset)}
	}
	return out
}

// Poll returns the next message, or nil when none arrived within timeout.
// Fatal client errors are returned; transient ones are not.
func (c *Consumer) Poll(timeout time.Duration) (*Message, error) {
	ev := c.c.Poll(int(timeout.Milliseconds()))
	switch e := ev.(type) {
	case *ck.Message:
		if e.TopicPartition.Error != nil {
			return nil, fmt.Errorf("consume %s: %w", *e.TopicPartition.Topic, e.TopicPartition.Error)
		}
		m := &Message{
			Topic:         *e.TopicPartition.Topic,
			Partition:     e.TopicPartition.Partition,
			Offset:        int64(e.TopicPartition.Offset),
			Key:           e.Key,
			Value:         e.Value,
			Timestamp:     e.Timestamp,
			LogAppendTime: e.TimestampType == ck.TimestampLogAppendTime,
		}
		for _, h := range e.Headers {
			m.Headers = append(m.Headers, Header{Key: h.Key, Value: h.Value})
		}
		return m, nil
	case ck.Error:
		if e.IsFatal() {
			return nil, fmt.Errorf("consumer: %w", e)
		}
	}
	return nil, nil
}

// Commit commits offsets (each the next offset to read) synchronously.
func (c *Consumer) Commit(parts []TopicPartition) error {
	if len(parts) == 0 {
		return nil
	}
	tps := make([]ck.TopicPartition, len(parts))
	for i, p := range parts {
		topic := p.Topic
		tps[i] = ck.TopicPartition{Topic: &topic, Partition: p.Partition, Offset: ck.Offset(p.Offset)}
	}
	if _, err := c.c.CommitOffsets(tps); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	return nil
}

// Close leaves the group and closes the consumer.
func (c *Consumer) Close() error { return c.c.Close() }

// ClusterID asks the cluster at bootstrap for its id, waiting at most
// until ctx ends: a worker checks at start-up that Kafka answers, as Kafka
// Connect does. settings are client settings (security and the like) for
// the connection.
func ClusterID(ctx context.Context, bootstrap string, settings map[string]string) (string, error) {
	cfg := configMap(settings, map[string]string{"bootstrap.servers": bootstrap, "enable.metrics.push": "false"})
	admin, err := ck.NewAdminClient(cfg)
	if err != nil {
		return "", fmt.Errorf("create admin client: %w", err)
	}
	defer admin.Close()
	id, err := admin.ClusterID(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("no answer from %s: %w", bootstrap, ctx.Err())
		}
		return "", err
	}
	return id, nil
}
