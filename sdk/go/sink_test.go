package sdk

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
)

// watchingSink lets its records be reused and keeps the partitions it is
// assigned, as a partition-aware sink does.
type watchingSink struct {
	assigned []TopicPartition
	puts     int
}

func (s *watchingSink) ReusesRecords() {}
func (s *watchingSink) Put(_ context.Context, records []SinkRecord) error {
	s.puts++
	return nil
}
func (s *watchingSink) Flush(context.Context) error { return nil }
func (s *watchingSink) Close() error                { return nil }
func (s *watchingSink) Assigned(_ context.Context, ps []TopicPartition) error {
	s.assigned = append(s.assigned, ps...)
	return nil
}
func (s *watchingSink) Revoked(context.Context, []TopicPartition) error { return nil }

// sinkStream is the host's side of a sink task's stream: it opens the task,
// then hands over msgs through the SDK's codec, then ends the stream.
type sinkStream struct {
	grpc.ServerStream
	ctx  context.Context
	msgs []*pb.SinkRunRequest
}

func (s *sinkStream) Context() context.Context       { return s.ctx }
func (s *sinkStream) Send(*pb.SinkRunResponse) error { return nil }
func (s *sinkStream) Recv() (*pb.SinkRunRequest, error) {
	return &pb.SinkRunRequest{Msg: &pb.SinkRunRequest_Open{Open: &pb.SinkOpen{Class: "Watching"}}}, nil
}

func (s *sinkStream) RecvMsg(m any) error {
	if len(s.msgs) == 0 {
		return io.EOF
	}
	b, err := s.msgs[0].MarshalVT()
	if err != nil {
		return err
	}
	s.msgs = s.msgs[1:]
	return codec.Codec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m)
}

// Reusing a sink's receive buffer is for its puts only: what other
// messages hand the task (assigned partitions) must outlive the next
// message received into that buffer.
func TestSinkReuseKeepsOtherMessagesIntact(t *testing.T) {
	task := &watchingSink{}
	srv := &server{log: hclog.NewNullLogger(), plugin: Plugin{Sinks: []SinkConnector{{Class: "Watching",
		Open: func(context.Context, Config) (SinkTask, error) { return task, nil }}}}}
	topic := strings.Repeat("a", 40)
	stream := &sinkStream{ctx: t.Context(), msgs: []*pb.SinkRunRequest{
		{Msg: &pb.SinkRunRequest_Assign{Assign: &pb.SinkPartitions{Partitions: []*pb.TopicPartitionOffset{{Topic: topic, Partition: 2}}}}},
		// Smaller than the assignment: received into the same buffer.
		{Msg: &pb.SinkRunRequest_Put{Put: &pb.SinkPut{Records: []*pb.SinkRecord{{Topic: "b", KafkaOffset: 1}}}}},
	}}
	_ = (&sinkServer{srv: srv}).Run(stream) // ends with the stream's EOF

	if task.puts != 1 || len(task.assigned) != 1 || task.assigned[0].Topic != topic || task.assigned[0].Partition != 2 {
		t.Errorf("puts %d, assigned %+v; want 1 put and %s-2", task.puts, task.assigned, topic)
	}
}
