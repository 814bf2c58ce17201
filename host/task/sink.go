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

	out      chan *pb.SinkRunRequest // to the sender goroutine, in order
	sendDone chan struct{}           // closed when a Send failed
	sendErr  error                   // why; set before sendDone closes
	sending  bool                    // out is open
	flushed  chan *pb.SinkFlushed
	readErr  chan error
	flushID  uint64
	consumed map[kafka.TopicPartition]int64 // next offset per partition (Offset field zero)
	failure  error                          // set by a flush inside a rebalance callback
}

// Run consumes the topics and feeds the plugin until ctx is cancelled (a
// graceful stop: a final flush and commit, then nil) or something fails.
// Kafka offsets are committed only for records the plugin has flushed.
func (s *Sink) Run(ctx context.Context) error {
	s.consumed = map[kafka.TopicPartition]int64{}
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
	// The sender owns stream.Send, so marshalling a batch overlaps with
	// polling the next; everything goes through it to keep the order.
	s.out, s.sendDone, s.sending = make(chan *pb.SinkRunRequest, 2), make(chan struct{}), true
	senderExited := make(chan struct{})
	go func() {
		defer close(senderExited)
		for m := range s.out {
			if err := stream.Send(m); err != nil {
				s.sendErr = err
				close(s.sendDone)
				for range s.out { // drop the rest until Run closes out
				}
				return
			}
		}
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

	lastFlush := time.Now()
	for {
		if ctx.Err() != nil {
			return s.flush()
		}
		select {
		case err := <-s.readErr:
			return s.pluginErr(err)
		default:
		}
		if err := s.pollBatch(); err != nil {
			return err
		}
		if s.failure != nil {
			return s.failure
		}
		if time.Since(lastFlush) >= s.FlushInterval {
			if err := s.flush(); err != nil {
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
// and puts them.
func (s *Sink) pollBatch() error {
	batch := sinkBatch{refs: map[*pb.Schema]uint32{}}
	timeout := 100 * time.Millisecond
	for len(batch.put.Records) < s.MaxBatch {
		m, err := s.Consumer.Poll(timeout)
		if err != nil {
			return err
		}
		if m == nil {
			break
		}
		timeout = 0
		r, err := s.convert(m, &batch)
		if err != nil {
			return err
		}
		batch.put.Records = append(batch.put.Records, r)
		s.consumed[kafka.TopicPartition{Topic: m.Topic, Partition: m.Partition}] = m.Offset + 1
	}
	if len(batch.put.Records) == 0 {
		return nil
	}
	return s.send(&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Put{Put: &batch.put}})
}

// sinkBatch is one put being built: its records and the schema table they
// refer to (converters hand out shared schemas, so each is listed once).
type sinkBatch struct {
	put  pb.SinkPut
	refs map[*pb.Schema]uint32
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

// send queues m for the sender; it fails once a send has failed, or after
// Run has returned (a rebalance callback can run in the consumer's Close).
func (s *Sink) send(m *pb.SinkRunRequest) error {
	if !s.sending {
		return errors.New("sink task has stopped")
	}
	select {
	case <-s.sendDone:
		return s.pluginErr(s.streamErr(s.sendErr))
	default:
	}
	s.out <- m
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

func (s *Sink) convert(m *kafka.Message, batch *sinkBatch) (*pb.SinkRecord, error) {
	// where names the record in errors; it is built only when one occurs.
	where := func() string { return fmt.Sprintf("%s-%d@%d", m.Topic, m.Partition, m.Offset) }
	ks, key, err := s.Key.ToConnect(m.Topic, m.Key)
	if err != nil {
		return nil, fmt.Errorf("convert key of record %s: %w", where(), err)
	}
	vs, value, err := s.Value.ToConnect(m.Topic, m.Value)
	if err != nil {
		return nil, fmt.Errorf("convert value of record %s: %w", where(), err)
	}
	r := &pb.SinkRecord{Topic: m.Topic, KafkaPartition: m.Partition, KafkaOffset: m.Offset,
		Key: batch.data(ks, key), Value: batch.data(vs, value), TimestampType: pb.TimestampType_TIMESTAMP_TYPE_CREATE_TIME}
	if m.LogAppendTime {
		r.TimestampType = pb.TimestampType_TIMESTAMP_TYPE_LOG_APPEND_TIME
	}
	if !m.Timestamp.IsZero() {
		r.TimestampMs = m.Timestamp.UnixMilli()
	}
	for _, h := range m.Headers {
		hs, hv, err := s.Header.ToConnect(m.Topic, h.Value)
		if err != nil {
			return nil, fmt.Errorf("convert header %s of record %s: %w", h.Key, where(), err)
		}
		r.Headers = append(r.Headers, &pb.Header{Key: h.Key, Value: batch.data(hs, hv)})
	}
	return r, nil
}

// flush asks the plugin to flush everything put so far and commits the
// offsets it confirms.
func (s *Sink) flush() error {
	if len(s.consumed) == 0 {
		return nil
	}
	s.flushID++
	req := &pb.SinkFlush{Id: s.flushID}
	for tp, off := range s.consumed {
		req.Offsets = append(req.Offsets, &pb.TopicPartitionOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: off})
	}
	if err := s.send(&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Flush{Flush: req}}); err != nil {
		return err
	}
	timeout := time.After(s.FlushTimeout + 30*time.Second)
	for {
		select {
		case f := <-s.flushed:
			if f.Id != s.flushID {
				continue
			}
			// Offsets beyond what was consumed are ignored, as in Kafka
			// Connect: a plugin cannot commit what it never received.
			parts := make([]kafka.TopicPartition, 0, len(f.Offsets))
			for _, o := range f.Offsets {
				tp := kafka.TopicPartition{Topic: o.Topic, Partition: o.Partition}
				if consumed, ok := s.consumed[tp]; ok && o.Offset <= consumed {
					tp.Offset = o.Offset
					parts = append(parts, tp)
				}
			}
			if err := s.Consumer.Commit(parts); err != nil {
				return fmt.Errorf("commit offsets of %s task %d: %w", s.Connector, s.TaskID, err)
			}
			s.consumed = map[kafka.TopicPartition]int64{}
			return nil
		case err := <-s.readErr:
			return s.pluginErr(err)
		case <-timeout:
			return fmt.Errorf("sink plugin did not flush within %s", s.FlushTimeout+30*time.Second)
		}
	}
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
		if err := s.send(&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Assign{Assign: msg}}); err != nil && s.failure == nil {
			s.failure = fmt.Errorf("partitions assigned: %w", err)
		}
		return
	}
	err := s.flush()
	if err == nil {
		err = s.send(&pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Revoke{Revoke: msg}})
	}
	if err != nil && s.failure == nil {
		s.failure = fmt.Errorf("partitions revoked: %w", err)
	}
}
