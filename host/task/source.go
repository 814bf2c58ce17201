// Package task runs one source or sink task: the loop between a plugin's
// stream and Kafka, with conversion as a stage on the way and offsets
// committed only for what is safely delivered.
package task

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ferry-connect/ferry/host/convert"
	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/offsets"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
)

// OffsetStore is where a source task's offsets go.
type OffsetStore interface {
	Get(connector string) []offsets.Offset
	Put(connector string, offs []offsets.Offset) error
}

// Producer is the Kafka side of a source task.
type Producer interface {
	Produce(topic string, partition int32, key, value []byte, headers []kafka.Header, ts time.Time) error
	Deliveries() <-chan []kafka.Delivery
	EnsureTopic(ctx context.Context, topic string) error
	Partitions(topic string) (int32, error)
}

// Source is one source task. Run it once.
type Source struct {
	Connector string
	TaskID    int32
	Class     string
	Config    map[string]string
	Client    pb.SourceTaskServiceClient
	Producer  Producer
	Offsets   OffsetStore
	Key       convert.Converter
	Value     convert.Converter
	Header    convert.Converter
	// FlushInterval is offset.flush.interval.ms; FlushTimeout bounds the
	// wait for outstanding deliveries on stop.
	FlushInterval time.Duration
	FlushTimeout  time.Duration
	MaxBatch      int
	Log           hclog.Logger

	pending  map[string]*partitionQueue // by source partition
	inFlight int
	topics   map[string]*topicState // the topics written so far
	batches  uint32                 // plugin batches so far; spreads keyless records
	// Records of a batch, and reports of a delivery batch, nearly always
	// share a topic and a source partition: remembering the last of each
	// saves hashing their names once or twice per record.
	lastTopic *topicState
	lastQueue *partitionQueue
}

// topicState is a topic being written: its partition count and, by
// partition, the records awaiting delivery reports in produce order.
type topicState struct {
	name       string
	partitions int32
	sent       []fifo[*submitted]
}

// submitted is one produced record awaiting its delivery report.
type submitted struct {
	queue  *partitionQueue // nil for records without a source partition
	offset []byte
	acked  bool
}

// partitionQueue holds one source partition's records in produce order;
// its committable offset is the last of its fully acknowledged prefix.
type partitionQueue struct {
	partition []byte
	records   fifo[*submitted]
	committed []byte // latest committable offset not yet stored
}

// advance moves the queue's committable offset over its acknowledged
// prefix.
func (q *partitionQueue) advance() {
	recs := q.records.front(q.records.len())
	n := 0
	for n < len(recs) && recs[n].acked {
		q.committed = recs[n].offset
		n++
	}
	q.records.pop(n)
}

// ErrStopped is returned by Run when the plugin ended the stream itself.
var ErrStopped = errors.New("source task ended its stream")

// Run streams records from the plugin into Kafka until ctx is cancelled
// (a graceful stop: returns nil after a final commit) or something fails
// (the plugin dies, a record cannot be converted or delivered): then it
// commits what was delivered and returns the error.
func (s *Source) Run(ctx context.Context) error {
	s.pending = map[string]*partitionQueue{}
	s.topics = map[string]*topicState{}
	streamCtx, cancelStream := context.WithCancel(context.Background())
	defer cancelStream()
	stream, err := s.Client.Run(streamCtx)
	if err != nil {
		return fmt.Errorf("open source task stream: %w", err)
	}
	open := &pb.SourceOpen{TaskId: s.TaskID, Class: s.Class, Config: s.Config, MaxBatch: int32(s.MaxBatch)}
	for _, o := range s.Offsets.Get(s.Connector) {
		open.Offsets = append(open.Offsets, &pb.SourceOffset{Partition: o.Partition, Offset: o.Offset})
	}
	if err := stream.Send(&pb.SourceRunRequest{Msg: &pb.SourceRunRequest_Open{Open: open}}); err != nil {
		return fmt.Errorf("open source task: %w", recvErr(stream, err))
	}

	// The reader owns Recv; it stops when the stream ends or is cancelled.
	// Batches come still encoded: the loop decodes them into one reused
	// sourceBatch, and once they are produced (librdkafka copies what it
	// sends, produce copies the offsets) hands their buffers back.
	batches := make(chan codec.Raw, 2)
	free := make(chan codec.Raw, cap(batches)+2)
	readErr := make(chan error, 1)
	go func() {
		for {
			var msg codec.Raw
			select {
			case msg = <-free:
			default:
			}
			if err := stream.RecvMsg(&msg); err != nil {
				readErr <- err
				return
			}
			select {
			case batches <- msg:
			case <-streamCtx.Done():
				readErr <- streamCtx.Err()
				return
			}
		}
	}()

	ticker := time.NewTicker(s.FlushInterval)
	defer ticker.Stop()
	deliveries := s.Producer.Deliveries()
	var batch sourceBatch
	for {
		select {
		case <-ctx.Done():
			stream.CloseSend()
			cancelStream()
			return s.finish(nil)
		case msg := <-batches:
			err := batch.decode(msg)
			if err != nil {
				err = fmt.Errorf("source plugin sent a bad batch: %w", err)
			} else {
				err = s.produce(ctx, &batch)
			}
			if err != nil {
				cancelStream()
				return s.finish(err)
			}
			select {
			case free <- msg[:0]:
			default:
			}
		case ds := <-deliveries:
			if err := s.deliveredAll(ds); err != nil {
				cancelStream()
				return s.finish(err)
			}
		case <-ticker.C:
			if err := s.commit(stream); err != nil {
				cancelStream()
				return s.finish(err)
			}
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				err = ErrStopped
			}
			cancelStream()
			return s.finish(fmt.Errorf("source plugin: %w", err))
		}
	}
}

// recvErr returns the stream's real error when Send failed because the
// stream had already ended.
func recvErr(stream pb.SourceTaskService_RunClient, sendErr error) error {
	if !errors.Is(sendErr, io.EOF) {
		return sendErr
	}
	if _, err := stream.Recv(); err != nil {
		return err
	}
	return sendErr
}

// finish waits (bounded) for outstanding deliveries, stores the offsets
// of what was delivered, and returns cause.
func (s *Source) finish(cause error) error {
	deadline := time.After(s.FlushTimeout)
	for s.inFlight > 0 {
		select {
		case ds := <-s.Producer.Deliveries():
			if err := s.deliveredAll(ds); err != nil && cause == nil {
				cause = err
			}
		case <-deadline:
			s.Log.Warn("records still unacknowledged at stop; they will be re-read", "count", s.inFlight)
			s.inFlight = 0
		}
	}
	if err := s.commit(nil); err != nil && cause == nil {
		cause = err
	}
	return cause
}

// topic returns the state of a topic, creating the topic on first use.
func (s *Source) topic(ctx context.Context, name string) (*topicState, error) {
	if t := s.lastTopic; t != nil && t.name == name {
		return t, nil
	}
	t, ok := s.topics[name]
	if !ok {
		if err := s.Producer.EnsureTopic(ctx, name); err != nil {
			return nil, err
		}
		n, err := s.Producer.Partitions(name)
		if err != nil {
			return nil, err
		}
		t = &topicState{name: name, partitions: n, sent: make([]fifo[*submitted], n)}
		s.topics[name] = t
	}
	s.lastTopic = t
	return t, nil
}

// partition picks a record's Kafka partition: the plugin's choice, else
// the key's murmur2 hash (as Kafka's producer), else one partition per
// plugin batch (as Kafka's sticky partitioner). Knowing the partition
// before producing is what lets deliveries be matched by order.
func (s *Source) partition(t *topicState, r *sourceRecord, key []byte) (int32, error) {
	n := t.partitions
	switch {
	case r.kafkaPartition >= 0:
		if r.kafkaPartition >= n {
			return 0, fmt.Errorf("record for partition %d of topic %s, which has %d", r.kafkaPartition, r.topic, n)
		}
		return r.kafkaPartition, nil
	case key != nil:
		return kafka.Partition(key, n), nil
	}
	return int32(s.batches % uint32(n)), nil
}

// queue returns the queue of a source partition's records in flight.
func (s *Source) queue(partition []byte) *partitionQueue {
	if q := s.lastQueue; q != nil && bytes.Equal(q.partition, partition) {
		return q
	}
	q := s.pending[string(partition)]
	if q == nil {
		q = &partitionQueue{partition: bytes.Clone(partition)}
		s.pending[string(partition)] = q
	}
	s.lastQueue = q
	return q
}

func (s *Source) produce(ctx context.Context, batch *sourceBatch) error {
	s.batches++
	subs := make([]submitted, len(batch.records)) // one allocation for the batch
	var headers []kafka.Header                    // reused: Produce copies them
	// Offsets outlive the batch's buffer, which is reused: they are copied,
	// all into one allocation.
	size := 0
	for i := range batch.records {
		size += len(batch.records[i].offset)
	}
	offsets := make([]byte, 0, size)
	for i := range batch.records {
		r := &batch.records[i]
		key, err := convertData(s.Key, r.topic, batch.schemas, r.keyData())
		if err != nil {
			return fmt.Errorf("convert key of record for topic %s (offset %s): %w", r.topic, r.offset, err)
		}
		value, err := convertData(s.Value, r.topic, batch.schemas, r.valueData())
		if err != nil {
			return fmt.Errorf("convert value of record for topic %s (offset %s): %w", r.topic, r.offset, err)
		}
		headers = headers[:0]
		for _, h := range r.headers {
			hv, err := convertData(s.Header, r.topic, batch.schemas, h.Value)
			if err != nil {
				return fmt.Errorf("convert header %s of record for topic %s: %w", h.Key, r.topic, err)
			}
			headers = append(headers, kafka.Header{Key: h.Key, Value: hv})
		}
		t, err := s.topic(ctx, r.topic)
		if err != nil {
			return err
		}
		part, err := s.partition(t, r, key)
		if err != nil {
			return err
		}
		sub := &subs[i]
		if r.offset != nil {
			start := len(offsets)
			offsets = append(offsets, r.offset...)
			sub.offset = offsets[start:len(offsets):len(offsets)]
		}
		if len(r.partition) > 0 {
			q := s.queue(r.partition)
			sub.queue = q
			q.records.push(sub)
		}
		var ts time.Time
		if r.timestampMs > 0 {
			ts = time.UnixMilli(r.timestampMs)
		}
		for {
			err = s.Producer.Produce(r.topic, part, key, value, headers, ts)
			if !errors.Is(err, kafka.ErrQueueFull) {
				break
			}
			// Backpressure: wait for a delivery to make room.
			if derr := s.deliveredAll(<-s.Producer.Deliveries()); derr != nil {
				return derr
			}
		}
		if err != nil {
			return err
		}
		t.sent[part].push(sub)
		s.inFlight++
	}
	return nil
}

// deliveredAll takes a batch of delivery reports; the first failure ends
// it (the task is failing then).
func (s *Source) deliveredAll(ds []kafka.Delivery) error {
	for _, d := range ds {
		if err := s.delivered(d); err != nil {
			return err
		}
	}
	return nil
}

// delivered matches a delivery report to the oldest records in flight on
// its partition.
func (s *Source) delivered(d kafka.Delivery) error {
	t := s.lastTopic
	if t == nil || t.name != d.Topic {
		t = s.topics[d.Topic]
	}
	if t == nil || d.Partition < 0 || d.Partition >= t.partitions || d.Count < 1 || d.Count > t.sent[d.Partition].len() {
		return fmt.Errorf("delivery report for %d records of %s-%d, more than are in flight there", d.Count, d.Topic, d.Partition)
	}
	sent := &t.sent[d.Partition]
	defer sent.pop(d.Count)
	s.inFlight -= d.Count
	if d.Err != nil {
		return fmt.Errorf("deliver record to %s-%d: %w", d.Topic, d.Partition, d.Err)
	}
	// A report's records nearly always share a source partition, whose
	// queue then advances once.
	var q *partitionQueue
	for _, sub := range sent.front(d.Count) {
		sub.acked = true
		if sub.queue != q {
			if q != nil {
				q.advance()
			}
			q = sub.queue
		}
	}
	if q != nil {
		q.advance()
	}
	return nil
}

// commit stores every partition's committable offset, then tells the
// plugin (when stream is not nil): the plugin hears of a commit only once
// it is durable.
func (s *Source) commit(stream pb.SourceTaskService_RunClient) error {
	var offs []offsets.Offset
	var msg pb.SourceCommitted
	for _, q := range s.pending {
		if q.committed != nil {
			offs = append(offs, offsets.Offset{Partition: q.partition, Offset: q.committed})
			msg.Offsets = append(msg.Offsets, &pb.SourceOffset{Partition: q.partition, Offset: q.committed})
		}
	}
	if len(offs) == 0 {
		return nil
	}
	if err := s.Offsets.Put(s.Connector, offs); err != nil {
		return fmt.Errorf("commit offsets of %s task %d: %w", s.Connector, s.TaskID, err)
	}
	// Stored: forget them, and the partitions with nothing in flight.
	for k, q := range s.pending {
		q.committed = nil
		if q.records.len() == 0 {
			delete(s.pending, k)
			if q == s.lastQueue {
				s.lastQueue = nil
			}
		}
	}
	if stream != nil {
		// A failed send means the stream is gone; the reader reports why.
		_ = stream.Send(&pb.SourceRunRequest{Msg: &pb.SourceRunRequest_Committed{Committed: &msg}})
	}
	return nil
}

// convertData serialises d, whose schema is in its batch's table.
func convertData(c convert.Converter, topic string, schemas []*pb.Schema, d *pb.Data) ([]byte, error) {
	var schema *pb.Schema
	if ref := d.GetSchema(); ref > 0 {
		if int(ref) > len(schemas) {
			return nil, fmt.Errorf("schema %d of a batch with %d", ref, len(schemas))
		}
		schema = schemas[ref-1]
	}
	if d.GetRaw() != nil {
		if t := schema.GetType(); t != pb.SchemaType_SCHEMA_TYPE_STRING && t != pb.SchemaType_SCHEMA_TYPE_BYTES {
			return nil, fmt.Errorf("raw value needs a STRING or BYTES schema")
		}
	}
	return c.FromConnect(topic, schema, d)
}
