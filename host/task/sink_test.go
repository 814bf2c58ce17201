package task

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/ferry-connect/ferry/host/convert"
	"github.com/ferry-connect/ferry/host/kafka"
	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
)

// scriptConsumer returns what its steps make, one step a Poll, then nothing.
type scriptConsumer struct {
	steps       []func() *kafka.Message
	onRebalance kafka.Rebalance
	commits     [][]kafka.TopicPartition
}

func (c *scriptConsumer) Subscribe(_ []string, cb kafka.Rebalance) error {
	c.onRebalance = cb
	return nil
}

func (c *scriptConsumer) Poll(time.Duration) (*kafka.Message, error) {
	if len(c.steps) == 0 {
		return nil, nil
	}
	step := c.steps[0]
	c.steps = c.steps[1:]
	return step(), nil
}

func (c *scriptConsumer) Commit(parts []kafka.TopicPartition) error {
	c.commits = append(c.commits, parts)
	return nil
}

// fakeSinkStream is the plugin's side: it notes what arrives, in order,
// and answers every flush by confirming all its offsets.
type fakeSinkStream struct {
	grpc.ClientStream
	mu      sync.Mutex
	got     []string
	flushed chan<- *pb.SinkFlushed
}

// SendMsg takes messages as the sink sends them, encoded.
func (f *fakeSinkStream) SendMsg(m any) error {
	e, ok := m.(codec.Encoded)
	if !ok {
		return fmt.Errorf("sent %T, not an encoded message", m)
	}
	defer e.Pool.Put(e.Buf)
	var req pb.SinkRunRequest
	if err := req.UnmarshalVT(*e.Buf); err != nil {
		return err
	}
	return f.Send(&req)
}

func (f *fakeSinkStream) Send(m *pb.SinkRunRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch x := m.Msg.(type) {
	case *pb.SinkRunRequest_Put:
		var recs []string
		for _, r := range x.Put.Records {
			recs = append(recs, fmt.Sprintf("%s-%d@%d", r.Topic, r.KafkaPartition, r.KafkaOffset))
		}
		f.got = append(f.got, "put "+strings.Join(recs, " "))
	case *pb.SinkRunRequest_Flush:
		var offs []string
		for _, o := range x.Flush.Offsets {
			offs = append(offs, fmt.Sprintf("%s-%d:%d", o.Topic, o.Partition, o.Offset))
		}
		f.got = append(f.got, "flush "+strings.Join(offs, " "))
		f.flushed <- &pb.SinkFlushed{Id: x.Flush.Id, Offsets: x.Flush.Offsets}
	case *pb.SinkRunRequest_Revoke:
		f.got = append(f.got, "revoke")
	}
	return nil
}

func (f *fakeSinkStream) Recv() (*pb.SinkRunResponse, error) { select {} }

func (f *fakeSinkStream) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// newTestSink makes a sink whose sender runs against a fake stream, as Run
// would set it up; stop ends the sender.
func newTestSink(t *testing.T, c Consumer, valueConverter string) (s *Sink, stream *fakeSinkStream, stop func()) {
	t.Helper()
	bytes, _ := convert.New("ByteArrayConverter", nil)
	value, err := convert.New(valueConverter, nil)
	if err != nil {
		t.Fatal(err)
	}
	s = &Sink{Connector: "c", Consumer: c, Key: bytes, Value: value, Header: bytes,
		FlushTimeout: time.Second, MaxBatch: 100, Log: hclog.NewNullLogger()}
	s.consumed = offsetMap{}
	s.flushed, s.readErr = make(chan *pb.SinkFlushed, 1), make(chan error, 1)
	s.out, s.sendDone, s.sending = make(chan outgoing, 2), make(chan struct{}), true
	stream = &fakeSinkStream{flushed: s.flushed}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.sender(stream)
	}()
	return s, stream, func() {
		s.sending = false
		close(s.out)
		<-done
	}
}

func message(partition int32, offset int64) *kafka.Message {
	return &kafka.Message{Topic: "t", Partition: partition, Offset: offset, Value: []byte("v")}
}

// A partition revoked in the middle of a poll: the records polled before it
// reach the plugin before the flush that commits them, and the commit
// covers exactly those.
func TestSinkRevokeMidPollPutsBeforeFlushing(t *testing.T) {
	c := &scriptConsumer{}
	s, stream, stop := newTestSink(t, c, "ByteArrayConverter")
	c.Subscribe(nil, s.rebalance)
	c.steps = []func() *kafka.Message{
		func() *kafka.Message { return message(0, 5) },
		func() *kafka.Message { return message(1, 7) },
		func() *kafka.Message { return message(0, 6) },
		func() *kafka.Message {
			c.onRebalance(false, []kafka.TopicPartition{{Topic: "t", Partition: 0}})
			return message(1, 8)
		},
	}
	if err := s.pollBatch(); err != nil {
		t.Fatal(err)
	}
	if s.failure != nil {
		t.Fatal(s.failure)
	}
	stop()
	got := strings.Join(stream.log(), "\n")
	want := "put t-0@5 t-1@7 t-0@6\nflush t-0:7 t-1:8\nrevoke\nput t-1@8"
	// Map order varies: compare the flush's offsets as a set.
	if !strings.HasPrefix(got, "put t-0@5 t-1@7 t-0@6\nflush ") || !strings.HasSuffix(got, "\nrevoke\nput t-1@8") ||
		!strings.Contains(got, "t-0:7") || !strings.Contains(got, "t-1:8") {
		t.Errorf("plugin got\n%s\nwant\n%s", got, want)
	}
	if len(c.commits) != 1 || len(c.commits[0]) != 2 {
		t.Fatalf("commits = %v, want one of two partitions", c.commits)
	}
	for _, p := range c.commits[0] {
		if want := map[int32]int64{0: 7, 1: 8}[p.Partition]; p.Offset != want {
			t.Errorf("committed %v, want offset %d", p, want)
		}
	}
}

// A record that does not convert ends the task with an error naming it,
// and nothing after it reaches the plugin: no flush, so no commit.
func TestSinkConversionFailureStopsBeforeFlush(t *testing.T) {
	c := &scriptConsumer{steps: []func() *kafka.Message{
		func() *kafka.Message { return message(0, 1) },
	}}
	s, stream, stop := newTestSink(t, c, "JsonConverter")
	defer stop()
	if err := s.pollBatch(); err != nil {
		t.Fatal(err)
	}
	err := s.flush()
	if err == nil || !strings.Contains(err.Error(), "convert value of record t-0@1") {
		t.Fatalf("flush after a bad record = %v", err)
	}
	if got := stream.log(); len(got) != 0 {
		t.Errorf("plugin got %v", got)
	}
	if len(c.commits) != 0 {
		t.Errorf("committed %v", c.commits)
	}
}
