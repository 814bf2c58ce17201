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
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
)

// Consumer is the Kafka side of a sink task.
type Consumer interface {
	Subscribe(topics []string, onRebalance kafka.Rebalance) error
	Poll(timeout time.Duration) (*kafka.Message, error)
	Commit(parts []kafka.TopicPartition) error
}

// Sink is one sink task. Run it once.
type Sink struct {
	Connector     string
	TaskID        int32
	Class         string
	Config        map[string]string
	Topics        []string
	Client        pb.SinkTaskServiceClient
	Consumer      Consumer
	Key           convert.Converter
	Value         convert.Converter
	Header        convert.Converter
	FlushInterval time.Duration
	FlushTimeout  time.Duration
	MaxBatch      int
	Log           hclog.Logger

	out      chan outgoing // to the sender goroutine, in order
	sendDone chan struct{} // closed when the sender failed
	sendErr  error         // why; set before sendDone closes
	sending  bool          // out is open
	flushed  chan *pb.SinkFlushed
	readErr  chan error
	batch    []*kafka.Message // polled, not yet handed to the sender
	consumed offsetMap        // handed to the sender since the last flush began
	flushID  uint64
	flushing offsetMap // what the flush in flight covers; nil if none
	flushAt  time.Time // when it began
	failure  error     // set by a flush inside a rebalance callback
}

// offsetMap holds the next offset to read per partition (Offset field zero).
type offsetMap map[kafka.TopicPartition]int64

// Run consumes the topics and feeds the plugin until ctx is cancelled (a
// graceful stop: a final flush and commit, then nil) or something fails.
// Kafka offsets are committed only for records the plugin has flushed.
func (s *Sink) Run(ctx context.Context) error {
	s.consumed = offsetMap{}
	streamCtx, cancelStream := context.WithCancel(context.Background())
	defer cancelStream()
	stream, err := s.Client.Run(streamCtx)
	if err != nil {
		return fmt.Errorf("open sink task stream: %w", err)
	}
	open := &pb.SinkOpen{TaskId: s.TaskID, Class: s.Class, Config: s.Config}
	if err := stream.Send(&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Open{Open: open}}); err != nil {
		return fmt.Errorf("open sink task: %w", err)
	}
	s.flushed = make(chan *pb.SinkFlushed, 1)
	s.readErr = make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				s.readErr <- err
				return
			}
			if f := msg.GetFlushed(); f != nil {
				select {
				case s.flushed <- f:
				case <-streamCtx.Done():
					return
				}
			}
		}
	}()
	// The sender owns conversion and stream.Send, so converting and
	// marshalling a batch overlap with polling the next; everything goes
	// through it to keep the order.
	s.out, s.sendDone, s.sending = make(chan outgoing, 2), make(chan struct{}), true
	senderExited := make(chan struct{})
	go func() {
		defer close(senderExited)
		s.sender(stream)
	}()
	defer func() {
		s.sending = false
		close(s.out)
		// A plugin that stopped reading would block Send for ever:
		// cancelling the stream unblocks it.
		select {
		case <-senderExited:
		case <-time.After(s.FlushTimeout):
			cancelStream()
			<-senderExited
		}
		stream.CloseSend()
	}()
	if err := s.Consumer.Subscribe(s.Topics, s.rebalance); err != nil {
		return err
	}

	// Flushes run in the background: polling goes on while the plugin
	// works through what it was sent before the flush, and the offsets are
	// committed when it answers.
	lastFlush := time.Now()
	for {
		if ctx.Err() != nil {
			return s.flush()
		}
		select {
		case err := <-s.readErr:
			return s.pluginErr(err)
		case <-s.sendDone:
			return s.sendErr
		case f := <-s.flushed:
			if err := s.flushDone(f); err != nil {
				return err
			}
		default:
		}
		if err := s.pollBatch(); err != nil {
			return err
		}
		if s.failure != nil {
			return s.failure
		}
		switch {
		case s.flushing != nil:
			if time.Since(s.flushAt) > s.flushLimit() {
				return fmt.Errorf("sink plugin did not flush within %s", s.flushLimit())
			}
		case time.Since(lastFlush) >= s.FlushInterval:
			if err := s.startFlush(); err != nil {
				return err
			}
			lastFlush = time.Now()
		}
	}
}

func (s *Sink) pluginErr(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("sink plugin ended its stream")
	}
	return fmt.Errorf("sink plugin: %w", err)
}

// pollBatch reads up to MaxBatch records (waiting briefly for the first)
// and hands them to the sender. Polling is all it does: librdkafka's Poll
// is the one step that cannot overlap with itself.
func (s *Sink) pollBatch() error {
	timeout := 100 * time.Millisecond
	for len(s.batch) < s.MaxBatch {
		m, err := s.Consumer.Poll(timeout)
		if err != nil {
			return err
		}
		if m == nil {
			break
		}
		timeout = 0
		if s.batch == nil {
			s.batch = make([]*kafka.Message, 0, s.MaxBatch)
		}
		s.batch = append(s.batch, m)
	}
	return s.sendBatch()
}

// sendBatch hands the records polled so far to the sender; only then do
// they count as consumed, so a flush (which may come from a rebalance in
// the middle of a poll) never covers a record the plugin was not sent.
func (s *Sink) sendBatch() error {
	if len(s.batch) == 0 {
		return nil
	}
	batch := s.batch
	s.batch = nil
	if err := s.send(outgoing{records: batch}); err != nil {
		return err
	}
	// Records come in runs from one partition: note each run's end.
	last := kafka.TopicPartition{Topic: batch[0].Topic, Partition: batch[0].Partition}
	for i, m := range batch {
		if m.Topic != last.Topic || m.Partition != last.Partition {
			s.consumed[last] = batch[i-1].Offset + 1
			last = kafka.TopicPartition{Topic: m.Topic, Partition: m.Partition}
		}
	}
	s.consumed[last] = batch[len(batch)-1].Offset + 1
	return nil
}

// outgoing is one item for the sender: consumed records to convert and
// put, or a request to send as it is.
type outgoing struct {
	records []*kafka.Message
	req     *pb.SinkRunRequest
}

// sender converts and sends what Run queues, in order, until Run closes
// out. Its first failure (a record that does not convert, a broken
// stream) ends the task: it closes sendDone and drops everything after,
// so nothing later (a flush above all) reaches the plugin.
func (s *Sink) sender(stream pb.SinkTaskService_RunClient) {
	batch := &sinkBatch{refs: map[*pb.Schema]uint32{}}
	// Puts are encoded into buffers of their own pool: gRPC's zeroes each
	// one and loses them at every collection.
	bufs := &codec.Pool{}
	for o := range s.out {
		req := o.req
		if req == nil {
			if err := s.convertBatch(batch, o.records); err != nil {
				s.sendErr = err
				break
			}
			req = &pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Put{Put: &batch.put}}
		}
		msg, err := bufs.Encode(req)
		if err != nil {
			s.sendErr = fmt.Errorf("encode message to the sink plugin: %w", err)
			break
		}
		if err := stream.SendMsg(msg); err != nil {
			s.sendErr = s.pluginErr(s.streamErr(err))
			break
		}
	}
	if s.sendErr != nil {
		close(s.sendDone)
		for range s.out { // drop the rest until Run closes out
		}
	}
}

// convertBatch converts consumed records into batch's put.
func (s *Sink) convertBatch(batch *sinkBatch, msgs []*kafka.Message) error {
	batch.reset(len(msgs))
	for i, m := range msgs {
		r := &batch.records[i]
		if err := s.convert(m, batch, r, &batch.values[2*i], &batch.values[2*i+1]); err != nil {
			return err
		}
		batch.put.Records[i] = r
	}
	return nil
}

// sinkBatch is one put being built: its records and the schema table they
// refer to (converters hand out shared schemas, so each is listed once).
// The sender reuses it for every put, records and all: gRPC has encoded
// a message by the time Send returns, and a batch's worth of fresh
// records cost more to allocate and collect than to convert.
type sinkBatch struct {
	put     pb.SinkPut
	refs    map[*pb.Schema]uint32
	records []pb.SinkRecord
	values  []pb.Data // two per record: key and value
}

// reset empties the batch for n records.
func (b *sinkBatch) reset(n int) {
	if cap(b.records) < n {
		b.records, b.values, b.put.Records = make([]pb.SinkRecord, n), make([]pb.Data, 2*n), make([]*pb.SinkRecord, n)
	}
	b.records, b.values, b.put.Records = b.records[:n], b.values[:2*n], b.put.Records[:n]
	clear(b.records)
	clear(b.values)
	clear(b.put.Schemas)
	b.put.Schemas = b.put.Schemas[:0]
	clear(b.refs)
}

// data makes d refer to schema s in the batch's table.
func (b *sinkBatch) data(s *pb.Schema, d *pb.Data) *pb.Data {
	if s == nil {
		return d
	}
	ref, ok := b.refs[s]
	if !ok {
		b.put.Schemas = append(b.put.Schemas, s)
		ref = uint32(len(b.put.Schemas))
		b.refs[s] = ref
	}
	d.Schema = ref
	return d
}

// send queues o for the sender; it fails once the sender has, or after
// Run has returned (a rebalance callback can run in the consumer's Close).
func (s *Sink) send(o outgoing) error {
	if !s.sending {
		return errors.New("sink task has stopped")
	}
	select {
	case <-s.sendDone:
		return s.sendErr
	default:
	}
	s.out <- o
	return nil
}

// streamErr prefers the reader's error, which says why the stream ended.
func (s *Sink) streamErr(sendErr error) error {
	select {
	case err := <-s.readErr:
		return err
	case <-time.After(time.Second):
		return sendErr
	}
}

// convert fills r with m, its key and value going into key and value.
func (s *Sink) convert(m *kafka.Message, batch *sinkBatch, r *pb.SinkRecord, key, value *pb.Data) error {
	// where names the record in errors; it is built only when one occurs.
	where := func() string { return fmt.Sprintf("%s-%d@%d", m.Topic, m.Partition, m.Offset) }
	ks, err := s.Key.ToConnect(m.Topic, m.Key, key)
	if err != nil {
		return fmt.Errorf("convert key of record %s: %w", where(), err)
	}
	vs, err := s.Value.ToConnect(m.Topic, m.Value, value)
	if err != nil {
		return fmt.Errorf("convert value of record %s: %w", where(), err)
	}
	r.Topic, r.KafkaPartition, r.KafkaOffset = m.Topic, m.Partition, m.Offset
	r.Key, r.Value = batch.data(ks, key), batch.data(vs, value)
	r.TimestampType = pb.TimestampType_TIMESTAMP_TYPE_CREATE_TIME
	if m.LogAppendTime {
		r.TimestampType = pb.TimestampType_TIMESTAMP_TYPE_LOG_APPEND_TIME
	}
	if !m.Timestamp.IsZero() {
		r.TimestampMs = m.Timestamp.UnixMilli()
	}
	for _, h := range m.Headers {
		hv := &pb.Data{}
		hs, err := s.Header.ToConnect(m.Topic, h.Value, hv)
		if err != nil {
			return fmt.Errorf("convert header %s of record %s: %w", h.Key, where(), err)
		}
		r.Headers = append(r.Headers, &pb.Header{Key: h.Key, Value: batch.data(hs, hv)})
	}
	return nil
}

// flush asks the plugin to flush everything sent so far and commits the
// offsets it confirms; it waits for that (and for any flush in flight).
func (s *Sink) flush() error {
	if err := s.awaitFlush(); err != nil {
		return err
	}
	if err := s.startFlush(); err != nil {
		return err
	}
	return s.awaitFlush()
}

// startFlush asks the plugin to flush what it was sent; flushDone commits
// when it answers. One flush is in flight at a time.
func (s *Sink) startFlush() error {
	if len(s.consumed) == 0 {
		return nil
	}
	s.flushID++
	req := &pb.SinkFlush{Id: s.flushID}
	for tp, off := range s.consumed {
		req.Offsets = append(req.Offsets, &pb.TopicPartitionOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: off})
	}
	s.flushing, s.flushAt = s.consumed, time.Now()
	s.consumed = offsetMap{}
	return s.send(outgoing{req: &pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Flush{Flush: req}}})
}

// flushLimit bounds how long the plugin may take to answer a flush.
func (s *Sink) flushLimit() time.Duration { return s.FlushTimeout + 30*time.Second }

// awaitFlush waits for the answer to the flush in flight, if any.
func (s *Sink) awaitFlush() error {
	if s.flushing == nil {
		return nil
	}
	timeout := time.After(s.flushLimit() - time.Since(s.flushAt))
	for s.flushing != nil {
		select {
		case f := <-s.flushed:
			if err := s.flushDone(f); err != nil {
				return err
			}
		case err := <-s.readErr:
			return s.pluginErr(err)
		case <-s.sendDone:
			return s.sendErr
		case <-timeout:
			return fmt.Errorf("sink plugin did not flush within %s", s.flushLimit())
		}
	}
	return nil
}

// flushDone commits the offsets the plugin confirmed for the flush in
// flight.
func (s *Sink) flushDone(f *pb.SinkFlushed) error {
	if s.flushing == nil || f.Id != s.flushID {
		return nil // an answer to a flush given up on
	}
	// Offsets beyond what was sent are ignored, as in Kafka Connect: a
	// plugin cannot commit what it never received.
	parts := make([]kafka.TopicPartition, 0, len(f.Offsets))
	for _, o := range f.Offsets {
		tp := kafka.TopicPartition{Topic: o.Topic, Partition: o.Partition}
		if sent, ok := s.flushing[tp]; ok && o.Offset <= sent {
			tp.Offset = o.Offset
			parts = append(parts, tp)
		}
	}
	s.flushing = nil
	if err := s.Consumer.Commit(parts); err != nil {
		return fmt.Errorf("commit offsets of %s task %d: %w", s.Connector, s.TaskID, err)
	}
	return nil
}

// rebalance tells the plugin of partition changes, and commits flushed
// records before partitions leave this task.
func (s *Sink) rebalance(assigned bool, parts []kafka.TopicPartition) {
	msg := &pb.SinkPartitions{}
	for _, p := range parts {
		msg.Partitions = append(msg.Partitions, &pb.TopicPartitionOffset{Topic: p.Topic, Partition: p.Partition, Offset: p.Offset})
	}
	if assigned {
		s.Log.Info("partitions assigned", "partitions", len(parts))
		if err := s.send(outgoing{req: &pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Assign{Assign: msg}}}); err != nil && s.failure == nil {
			s.failure = fmt.Errorf("partitions assigned: %w", err)
		}
		return
	}
	err := s.sendBatch()
	if err == nil {
		err = s.flush()
	}
	if err == nil {
		err = s.send(outgoing{req: &pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Revoke{Revoke: msg}}})
	}
	if err != nil && s.failure == nil {
		s.failure = fmt.Errorf("partitions revoked: %w", err)
	}
}
