package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TopicSpec describes an internal topic: what a Log creates when the topic
// is missing, and what it checks when it exists.
type TopicSpec struct {
	Name string
	// Partitions and ReplicationFactor for a new topic; -1 takes the
	// broker's default.
	Partitions        int
	ReplicationFactor int
	// Config is more topic configuration for a new topic; cleanup.policy
	// is always compact.
	Config map[string]string
	// SinglePartition refuses an existing topic with more than one
	// partition: the config topic's records must stay in one order.
	SinglePartition bool
}

// LogRecord is one record of a Log's topic; a nil Value is a tombstone.
type LogRecord struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
}

// Log is a compacted topic that a worker reads from its beginning and then
// follows, and writes to: Kafka Connect's KafkaBasedLog, under each of
// distributed mode's config, offsets and status stores. Records reach the
// callback in order within each partition, from one goroutine the Log
// owns. Its methods are safe for concurrent use.
type Log struct {
	topic    string
	parts    []int32
	producer *Producer
	consumer *ck.Consumer
	onRecord func(LogRecord)

	mu       sync.Mutex // guards next, readErr and waiters
	next     map[int32]int64
	readErr  error
	progress chan struct{} // closed and replaced whenever next moves

	stop chan struct{}
	done chan struct{}
}

// OpenLog makes sure spec's topic exists as a compacted topic (creating it
// if missing), reads it to its end, calling onRecord for each record, and
// keeps following it until Close. settings are client settings (security
// and the like).
func OpenLog(ctx context.Context, bootstrap, clientID string, spec TopicSpec, settings map[string]string, onRecord func(LogRecord)) (*Log, error) {
	producer, err := NewProducer(bootstrap, clientID+"-producer", settings)
	if err != nil {
		return nil, err
	}
	parts, err := ensureCompacted(ctx, producer.p, spec)
	if err != nil {
		producer.CloseDiscarding(5 * time.Second)
		return nil, err
	}
	cfg := configMap(settings, map[string]string{
		"bootstrap.servers":   bootstrap,
		"client.id":           clientID + "-consumer",
		"enable.metrics.push": "false",
		// The client needs a group id, but the log assigns itself every
		// partition and never joins the group nor commits.
		"group.id":           clientID,
		"enable.auto.commit": "false",
		"auto.offset.reset":  "earliest",
	})
	consumer, err := ck.NewConsumer(cfg)
	if err != nil {
		producer.CloseDiscarding(5 * time.Second)
		return nil, fmt.Errorf("create consumer for %s: %w", spec.Name, err)
	}
	topic := spec.Name
	assign := make([]ck.TopicPartition, len(parts))
	for i, p := range parts {
		assign[i] = ck.TopicPartition{Topic: &topic, Partition: p, Offset: ck.OffsetBeginning}
	}
	if err := consumer.Assign(assign); err != nil {
		consumer.Close()
		producer.CloseDiscarding(5 * time.Second)
		return nil, fmt.Errorf("read %s: %w", spec.Name, err)
	}
	l := &Log{
		topic: topic, parts: parts, producer: producer, consumer: consumer, onRecord: onRecord,
		next: map[int32]int64{}, progress: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.read()
	if err := l.ReadToEnd(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// ensureCompacted creates the topic if it is missing, and checks one that
// exists; it returns the topic's partitions.
func ensureCompacted(ctx context.Context, p *ck.Producer, spec TopicSpec) ([]int32, error) {
	admin, err := ck.NewAdminClientFromProducer(p)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	topicConfig := map[string]string{}
	for k, v := range spec.Config {
		topicConfig[k] = v
	}
	topicConfig["cleanup.policy"] = "compact"
	res, err := admin.CreateTopics(ctx, []ck.TopicSpecification{{
		Topic: spec.Name, NumPartitions: spec.Partitions, ReplicationFactor: spec.ReplicationFactor, Config: topicConfig,
	}})
	if err != nil {
		return nil, fmt.Errorf("create topic %s: %w", spec.Name, err)
	}
	for _, r := range res {
		if code := r.Error.Code(); code != ck.ErrNoError && code != ck.ErrTopicAlreadyExists {
			return nil, fmt.Errorf("create topic %s: %w", spec.Name, r.Error)
		}
	}
	// A topic just created may be unknown to the broker asked for a
	// moment (Apache Kafka propagates its metadata asynchronously).
	var t ck.TopicMetadata
	for {
		md, err := p.GetMetadata(&spec.Name, false, timeoutMS(ctx))
		if err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", spec.Name, err)
		}
		t = md.Topics[spec.Name]
		if t.Error.Code() == ck.ErrNoError && len(t.Partitions) > 0 {
			break
		}
		if err := waitRetry(ctx, fmt.Errorf("metadata of %s: topic not found (%v)", spec.Name, t.Error)); err != nil {
			return nil, err
		}
	}
	var policy string
	for {
		configs, err := admin.DescribeConfigs(ctx, []ck.ConfigResource{{Type: ck.ResourceTopic, Name: spec.Name}})
		if err != nil {
			return nil, fmt.Errorf("describe topic %s: %w", spec.Name, err)
		}
		if len(configs) == 1 && configs[0].Error.Code() == ck.ErrNoError {
			policy = configs[0].Config["cleanup.policy"].Value
			break
		}
		if err := waitRetry(ctx, fmt.Errorf("describe topic %s: %v", spec.Name, configs)); err != nil {
			return nil, err
		}
	}
	if policy != "compact" {
		return nil, fmt.Errorf("topic %s must be compacted (cleanup.policy=compact), but its cleanup.policy is %q: it would lose records that are the only copy of their key", spec.Name, policy)
	}
	if spec.SinglePartition && len(t.Partitions) != 1 {
		return nil, fmt.Errorf("topic %s must have exactly 1 partition, but has %d", spec.Name, len(t.Partitions))
	}
	parts := make([]int32, len(t.Partitions))
	for i, pm := range t.Partitions {
		parts[i] = pm.ID
	}
	return parts, nil
}

// waitRetry waits a moment before a retry, or returns last once ctx
// ends.
func waitRetry(ctx context.Context, last error) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w (%v)", last, ctx.Err())
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

// read follows the topic until Close, handing records to onRecord.
func (l *Log) read() {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		switch e := l.consumer.Poll(100).(type) {
		case *ck.Message:
			if e.TopicPartition.Error != nil {
				l.fail(fmt.Errorf("read %s: %w", l.topic, e.TopicPartition.Error))
				continue
			}
			l.onRecord(LogRecord{Partition: e.TopicPartition.Partition, Offset: int64(e.TopicPartition.Offset), Key: e.Key, Value: e.Value})
			l.advance(e.TopicPartition.Partition, int64(e.TopicPartition.Offset)+1)
		case ck.Error:
			if e.IsFatal() {
				l.fail(fmt.Errorf("read %s: %w", l.topic, e))
			}
		}
	}
}

func (l *Log) advance(partition int32, next int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next[partition] = next
	close(l.progress)
	l.progress = make(chan struct{})
}

func (l *Log) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.readErr == nil {
		l.readErr = err
	}
	close(l.progress)
	l.progress = make(chan struct{})
}

// ReadToEnd waits until every record written to the topic before the
// call has reached the callback, or ctx ends.
func (l *Log) ReadToEnd(ctx context.Context) error {
	end := map[int32]int64{}
	for _, p := range l.parts {
		high, err := l.endOffset(ctx, p)
		if err != nil {
			return err
		}
		end[p] = high
	}
	for {
		l.mu.Lock()
		caughtUp, readErr, progress := true, l.readErr, l.progress
		for p, high := range end {
			if l.next[p] < high {
				caughtUp = false
			}
		}
		l.mu.Unlock()
		switch {
		case readErr != nil:
			return readErr
		case caughtUp:
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("read %s to its end: %w", l.topic, ctx.Err())
		case <-l.done:
			return fmt.Errorf("read %s to its end: %w", l.topic, errLogClosed)
		}
	}
}

var errLogClosed = errors.New("log is closed")

// endOffset asks for a partition's end, retrying while its leader is not
// known yet (as right after the topic was created). It asks through the
// producer's connection: on the consumer's, the request waits behind the
// pending fetch (up to fetch.wait.max.ms, per partition). Each attempt
// gets at most endOffsetAttempt: against Apache Kafka, a fresh client's
// first query now and then hangs for its whole timeout while the next
// one answers at once.
func (l *Log) endOffset(ctx context.Context, p int32) (int64, error) {
	for {
		_, high, err := l.producer.p.QueryWatermarkOffsets(l.topic, p, min(timeoutMS(ctx), int(endOffsetAttempt.Milliseconds())))
		if err == nil {
			return high, nil
		}
		var kerr ck.Error
		if !errors.As(err, &kerr) || !(kerr.IsRetriable() || kerr.Code() == ck.ErrNotLeaderForPartition || kerr.Code() == ck.ErrTimedOut ||
			kerr.Code() == ck.ErrLeaderNotAvailable || kerr.Code() == ck.ErrUnknownTopicOrPart) {
			return 0, fmt.Errorf("end of %s-%d: %w", l.topic, p, err)
		}
		if err := waitRetry(ctx, fmt.Errorf("end of %s-%d: %w", l.topic, p, err)); err != nil {
			return 0, err
		}
	}
}

// endOffsetAttempt bounds one query of a partition's end.
const endOffsetAttempt = 2 * time.Second

// timeoutMS is what remains of ctx's deadline for a librdkafka call, or
// 30 s without one.
func timeoutMS(ctx context.Context) int {
	if d, ok := ctx.Deadline(); ok {
		return max(int(time.Until(d).Milliseconds()), 1)
	}
	return 30000
}

// Send writes a record (a nil value is a tombstone) to the partition its
// key hashes to, as Kafka's producer picks it, and waits until Kafka has
// it or ctx ends. The callback sees it once the log reads it back.
func (l *Log) Send(ctx context.Context, key, value []byte) error {
	topic := l.topic
	msg := &ck.Message{TopicPartition: ck.TopicPartition{Topic: &topic, Partition: Partition(key, int32(len(l.parts)))}, Key: key, Value: value}
	// A report channel per record: sends may run concurrently, and one
	// given up on must not be taken for the next.
	report := make(chan ck.Event, 1)
	if err := l.producer.p.Produce(msg, report); err != nil {
		return fmt.Errorf("write to %s: %w", topic, err)
	}
	select {
	case ev := <-report:
		if m, ok := ev.(*ck.Message); ok && m.TopicPartition.Error != nil {
			return fmt.Errorf("write to %s-%d: %w", topic, m.TopicPartition.Partition, m.TopicPartition.Error)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("write to %s: %w", topic, ctx.Err())
	}
}

// Close stops following the topic and closes the clients.
func (l *Log) Close() {
	close(l.stop)
	<-l.done
	l.consumer.Close()
	l.producer.CloseDiscarding(5 * time.Second)
}
