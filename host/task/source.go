// Package task runs one source or sink task: the loop between a plugin's
// stream and Kafka, with conversion as a stage on the way and offsets
// committed only for what is safely delivered.
package task

import (
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

	pending  map[string]*partitionQueue      // by source partition
	sent     map[topicPartition][]*submitted // by Kafka partition, in produce order
	inFlight int
	topics   map[string]int32 // partition counts of the topics written so far
	batches  uint32           // plugin batches so far; spreads keyless records
}

type topicPartition struct {
	topic     string
	partition int32
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
	records   []*submitted
	committed []byte // latest committable offset not yet stored
}

// ErrStopped is returned by Run when the plugin ended the stream itself.
var ErrStopped = errors.New("source task ended its stream")

// Run streams records from the plugin into Kafka until ctx is cancelled
// (a graceful stop: returns nil after a final commit) or something fails
// (the plugin dies, a record cannot be converted or delivered): then it
// commits what was delivered and returns the error.
func (s *Source) Run(ctx context.Context) error {
	s.pending = map[string]*partitionQueue{}
	s.sent = map[topicPartition][]*submitted{}
	s.topics = map[string]int32{}
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
	batches := make(chan *pb.SourceRunResponse, 2)
	readErr := make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
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
	for {
		select {
		case <-ctx.Done():
			stream.CloseSend()
			cancelStream()
			return s.finish(nil)
		case batch := <-batches:
			if err := s.produce(ctx, batch); err != nil {
				cancelStream()
				return s.finish(err)
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

// partition picks a record's Kafka partition: the plugin's choice, else
// the key's murmur2 hash (as Kafka's producer), else one partition per
// plugin batch (as Kafka's sticky partitioner). Knowing the partition
// before producing is what lets deliveries be matched by order.
func (s *Source) partition(ctx context.Context, r *pb.SourceRecord, key []byte) (int32, error) {
	n, ok := s.topics[r.Topic]
	if !ok {
		if err := s.Producer.EnsureTopic(ctx, r.Topic); err != nil {
			return 0, err
		}
		var err error
		if n, err = s.Producer.Partitions(r.Topic); err != nil {
			return 0, err
		}
		s.topics[r.Topic] = n
	}
	switch {
	case r.KafkaPartition >= 0:
		if r.KafkaPartition >= n {
			return 0, fmt.Errorf("record for partition %d of topic %s, which has %d", r.KafkaPartition, r.Topic, n)
		}
		return r.KafkaPartition, nil
	case key != nil:
		return kafka.Partition(key, n), nil
	}
	return int32(s.batches % uint32(n)), nil
}

func (s *Source) produce(ctx context.Context, batch *pb.SourceRunResponse) error {
	s.batches++
	subs := make([]submitted, len(batch.Records)) // one allocation for the batch
	for i, r := range batch.Records {
		key, err := convertData(s.Key, r.Topic, batch.Schemas, r.Key)
		if err != nil {
			return fmt.Errorf("convert key of record for topic %s (offset %s): %w", r.Topic, r.SourceOffset, err)
		}
		value, err := convertData(s.Value, r.Topic, batch.Schemas, r.Value)
		if err != nil {
			return fmt.Errorf("convert value of record for topic %s (offset %s): %w", r.Topic, r.SourceOffset, err)
		}
		var headers []kafka.Header
		for _, h := range r.Headers {
			hv, err := convertData(s.Header, r.Topic, batch.Schemas, h.Value)
			if err != nil {
				return fmt.Errorf("convert header %s of record for topic %s: %w", h.Key, r.Topic, err)
			}
			headers = append(headers, kafka.Header{Key: h.Key, Value: hv})
		}
		part, err := s.partition(ctx, r, key)
		if err != nil {
			return err
		}
		sub := &subs[i]
		sub.offset = r.SourceOffset
		if len(r.SourcePartition) > 0 {
			q := s.pending[string(r.SourcePartition)]
			if q == nil {
				q = &partitionQueue{partition: r.SourcePartition}
				s.pending[string(r.SourcePartition)] = q
			}
			sub.queue = q
			q.records = append(q.records, sub)
		}
		var ts time.Time
		if r.TimestampMs > 0 {
			ts = time.UnixMilli(r.TimestampMs)
		}
		for {
			err = s.Producer.Produce(r.Topic, part, key, value, headers, ts)
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
		tp := topicPartition{r.Topic, part}
		s.sent[tp] = append(s.sent[tp], sub)
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

// delivered matches a delivery report to the oldest record in flight on its
// partition.
func (s *Source) delivered(d kafka.Delivery) error {
	tp := topicPartition{d.Topic, d.Partition}
	q := s.sent[tp]
	if len(q) == 0 {
		return fmt.Errorf("delivery report for %s-%d with no record in flight there", d.Topic, d.Partition)
	}
	sub := q[0]
	if len(q) == 1 {
		delete(s.sent, tp)
	} else {
		s.sent[tp] = q[1:]
	}
	s.inFlight--
	if d.Err != nil {
		return fmt.Errorf("deliver record to %s-%d: %w", d.Topic, d.Partition, d.Err)
	}
	sub.acked = true
	if q := sub.queue; q != nil {
		n := 0
		for n < len(q.records) && q.records[n].acked {
			q.committed = q.records[n].offset
			n++
		}
		if n > 0 {
			q.records = q.records[n:]
		}
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
		if len(q.records) == 0 {
			delete(s.pending, k)
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
