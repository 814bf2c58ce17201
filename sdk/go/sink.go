package sdk

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
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

	codec := newSchemaCodec()
	for {
		msg, err := stream.Recv()
		if err != nil {
			return taskStatus(ctx, err)
		}
		switch m := msg.Msg.(type) {
		case *pb.SinkRunRequest_Put:
			schemas, err := codec.fromTable(m.Put.Schemas)
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "task %d: schemas of a put: %v", open.TaskId, err)
			}
			// A fresh slice per put: the task may keep the records.
			records := make([]SinkRecord, 0, len(m.Put.Records))
			for _, pr := range m.Put.Records {
				r, err := fromProtoSinkRecord(codec, schemas, pr)
				if err != nil {
					return status.Errorf(codes.InvalidArgument, "task %d: record %s-%d@%d: %v", open.TaskId, pr.Topic, pr.KafkaPartition, pr.KafkaOffset, err)
				}
				records = append(records, r)
			}
			if err := task.Put(ctx, records); err != nil {
				return taskStatus(ctx, fmt.Errorf("put: %w", err))
			}
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

func fromProtoSinkRecord(codec *schemaCodec, schemas []*Schema, pr *pb.SinkRecord) (SinkRecord, error) {
	r := SinkRecord{Topic: pr.Topic, Partition: pr.KafkaPartition, Offset: pr.KafkaOffset}
	if pr.TimestampMs != 0 {
		r.Timestamp = time.UnixMilli(pr.TimestampMs).UTC()
	}
	var err error
	if r.KeySchema, r.Key, err = codec.fromData(schemas, pr.Key); err != nil {
		return r, fmt.Errorf("key: %w", err)
	}
	if r.ValueSchema, r.Value, err = codec.fromData(schemas, pr.Value); err != nil {
		return r, fmt.Errorf("value: %w", err)
	}
	for _, h := range pr.Headers {
		hs, hv, err := codec.fromData(schemas, h.Value)
		if err != nil {
			return r, fmt.Errorf("header %q: %w", h.Key, err)
		}
		r.Headers = append(r.Headers, Header{Key: h.Key, Schema: hs, Value: hv})
	}
	return r, nil
}
