package sdk

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
)

type sinkServer struct {
	pb.UnimplementedSinkTaskServiceServer
	srv *server
}

// Run serves one sink task: puts and flushes arrive in order on one stream,
// and every flush is answered once the task has flushed. It returns when the
// host closes its side, or with the task's first error.
func (s *sinkServer) Run(stream pb.SinkTaskService_RunServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "first message must be open")
	}
	c, err := s.srv.find(open.Class)
	if err != nil {
		return err
	}
	if c.sink == nil {
		return status.Errorf(codes.InvalidArgument, "%s is not a sink connector", open.Class)
	}
	cfg, errs := c.configure(open.Config)
	if len(errs) > 0 {
		return configStatus(errs)
	}
	log := s.srv.log.With("task", open.TaskId)
	ctx := context.WithValue(stream.Context(), loggerKey{}, log)
	task, err := c.sink.Open(ctx, cfg)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "open task %d: %v", open.TaskId, err)
	}
	defer func() {
		if err := task.Close(); err != nil {
			log.Warn("close task", "error", err)
		}
	}()

	schemas := newSchemaCodec()
	_, reuse := task.(SinkRecordsReuser)
	var raw codec.Raw
	var records []SinkRecord
	for {
		// Puts are decoded from the wire straight into records; the rest
		// as messages. Records share the received bytes, so unless the
		// task lets them be reused each message gets a buffer of its own.
		if reuse {
			raw = raw[:0]
		} else {
			raw, records = nil, nil
		}
		if err := stream.RecvMsg(&raw); err != nil {
			return taskStatus(ctx, err)
		}
		put, isPut, err := putBytes(raw)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "task %d: %v", open.TaskId, err)
		}
		if isPut {
			if records, err = decodePut(schemas, put, records); err != nil {
				return status.Errorf(codes.InvalidArgument, "task %d: put: %v", open.TaskId, err)
			}
			if err := task.Put(ctx, records); err != nil {
				return taskStatus(ctx, fmt.Errorf("put: %w", err))
			}
			continue
		}
		// Copied out: the task may keep what these hand it (assigned
		// partitions), and raw may be reused for the next message.
		msg := &pb.SinkRunRequest{}
		if err := msg.UnmarshalVT(raw); err != nil {
			return status.Errorf(codes.InvalidArgument, "task %d: %v", open.TaskId, err)
		}
		switch m := msg.Msg.(type) {
		case *pb.SinkRunRequest_Flush:
			offsets, err := commitOffsets(ctx, task, m.Flush.Offsets)
			if err != nil {
				return taskStatus(ctx, err)
			}
			resp := &pb.SinkRunResponse{Msg: &pb.SinkRunResponse_Flushed{Flushed: &pb.SinkFlushed{Id: m.Flush.Id, Offsets: offsets}}}
			if err := stream.Send(resp); err != nil {
				return err
			}
		case *pb.SinkRunRequest_Assign:
			if w, ok := task.(SinkPartitionWatcher); ok {
				if err := w.Assigned(ctx, fromProtoPartitions(m.Assign.Partitions)); err != nil {
					return taskStatus(ctx, fmt.Errorf("partitions assigned: %w", err))
				}
			}
		case *pb.SinkRunRequest_Revoke:
			if w, ok := task.(SinkPartitionWatcher); ok {
				if err := w.Revoked(ctx, fromProtoPartitions(m.Revoke.Partitions)); err != nil {
					return taskStatus(ctx, fmt.Errorf("partitions revoked: %w", err))
				}
			}
		}
	}
}

// commitOffsets flushes the task (or asks its PreCommit) and returns the
// offsets the host may commit.
func commitOffsets(ctx context.Context, task SinkTask, consumed []*pb.TopicPartitionOffset) ([]*pb.TopicPartitionOffset, error) {
	pc, ok := task.(SinkPreCommitter)
	if !ok {
		if err := task.Flush(ctx); err != nil {
			return nil, fmt.Errorf("flush: %w", err)
		}
		return consumed, nil
	}
	offsets, err := pc.PreCommit(ctx, fromProtoPartitions(consumed))
	if err != nil {
		return nil, fmt.Errorf("pre-commit: %w", err)
	}
	out := make([]*pb.TopicPartitionOffset, len(offsets))
	for i, o := range offsets {
		out[i] = &pb.TopicPartitionOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset}
	}
	return out, nil
}

func fromProtoPartitions(ps []*pb.TopicPartitionOffset) []TopicPartition {
	out := make([]TopicPartition, len(ps))
	for i, p := range ps {
		out[i] = TopicPartition{Topic: p.Topic, Partition: p.Partition, Offset: p.Offset}
	}
	return out
}
