package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
)

type sourceServer struct {
	pb.UnimplementedSourceTaskServiceServer
	srv *server
}

// Run serves one source task: it polls the task and streams its records to
// the host, and hands the host's committed offsets to the task. It returns
// when the host closes its side or the stream breaks.
func (s *sourceServer) Run(stream pb.SourceTaskService_RunServer) error {
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
	if c.source == nil {
		return status.Errorf(codes.InvalidArgument, "%s is not a source connector", open.Class)
	}
	cfg, errs := c.configure(open.Config)
	if len(errs) > 0 {
		return configStatus(errs)
	}
	offsets := Offsets{}
	for _, o := range open.Offsets {
		m, err := decodeJSONMap(o.Offset)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "stored offset: %v", err)
		}
		offsets[string(o.Partition)] = m
	}
	log := s.srv.log.With("task", open.TaskId)
	ctx, cancel := context.WithCancel(context.WithValue(stream.Context(), loggerKey{}, log))
	defer cancel()

	task, err := c.source.Open(ctx, cfg, offsets)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "open task %d: %v", open.TaskId, err)
	}
	defer func() {
		if err := task.Close(); err != nil {
			log.Warn("close task", "error", err)
		}
	}()

	// The receiver owns Recv: it hands committed offsets to the task and
	// cancels the poll loop when the host closes its side.
	recvDone := make(chan error, 1)
	go func() {
		recvDone <- receiveCommits(ctx, stream, task)
		cancel()
	}()

	maxBatch := int(open.MaxBatch)
	codec := newSchemaCodec()
	var pollErr error
	for pollErr == nil {
		var records []SourceRecord
		records, pollErr = task.Poll(ctx)
		for len(records) > 0 {
			n := len(records)
			if maxBatch > 0 && n > maxBatch {
				n = maxBatch
			}
			batch, err := toProtoBatch(codec, records[:n])
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "task %d: %v", open.TaskId, err)
			}
			if err := stream.Send(batch); err != nil {
				return err
			}
			records = records[n:]
		}
	}
	cancel()
	if err := <-recvDone; err != nil {
		return taskStatus(ctx, err)
	}
	return taskStatus(ctx, pollErr)
}

func receiveCommits(ctx context.Context, stream pb.SourceTaskService_RunServer, task SourceTask) error {
	committer, _ := task.(SourceCommitter)
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		c := msg.GetCommitted()
		if c == nil || committer == nil {
			continue
		}
		offsets := make([]Offset, 0, len(c.Offsets))
		for _, o := range c.Offsets {
			p, err := decodeJSONMap(o.Partition)
			if err != nil {
				return err
			}
			off, err := decodeJSONMap(o.Offset)
			if err != nil {
				return err
			}
			offsets = append(offsets, Offset{Partition: p, Offset: off})
		}
		if err := committer.Commit(ctx, offsets); err != nil && !errors.Is(err, context.Canceled) {
			Logger(ctx).Warn("commit", "error", err)
		}
	}
}

// toProtoBatch converts a batch of records, with the schema table its
// values refer to.
func toProtoBatch(codec *schemaCodec, records []SourceRecord) (*pb.SourceRunResponse, error) {
	out := make([]*pb.SourceRecord, len(records))
	// One allocation each for the batch's records and its offsets' bytes.
	slab := make([]pb.SourceRecord, len(records))
	offsets := make([]byte, 0, 32*len(records))
	table := codec.newTable()
	// Sources usually share one partition map across records: encode it
	// once per batch.
	var lastPartition uintptr
	var lastEncoded []byte
	for i := range records {
		r := &records[i]
		pr := &slab[i]
		pr.Topic, pr.KafkaPartition = r.Topic, -1
		var err error
		if p := reflect.ValueOf(r.Partition).Pointer(); p != 0 && p == lastPartition {
			pr.SourcePartition = lastEncoded
		} else {
			if pr.SourcePartition, err = encodeJSONMap(r.Partition); err != nil {
				return nil, fmt.Errorf("record %d partition: %w", i, err)
			}
			lastPartition, lastEncoded = p, pr.SourcePartition
		}
		start := len(offsets)
		if offsets, err = appendJSONMap(offsets, r.Offset); err != nil {
			return nil, fmt.Errorf("record %d offset: %w", i, err)
		}
		if r.Offset != nil {
			pr.SourceOffset = offsets[start:len(offsets):len(offsets)]
		}
		if r.KafkaPartition != nil {
			pr.KafkaPartition = *r.KafkaPartition
		}
		if !r.Timestamp.IsZero() {
			pr.TimestampMs = r.Timestamp.UnixMilli()
		}
		if pr.Key, err = table.data(r.KeySchema, r.Key); err != nil {
			return nil, fmt.Errorf("record %d key: %w", i, err)
		}
		if pr.Value, err = table.data(r.ValueSchema, r.Value); err != nil {
			return nil, fmt.Errorf("record %d value: %w", i, err)
		}
		for _, h := range r.Headers {
			hd, err := table.data(h.Schema, h.Value)
			if err != nil {
				return nil, fmt.Errorf("record %d header %q: %w", i, h.Key, err)
			}
			pr.Headers = append(pr.Headers, &pb.Header{Key: h.Key, Value: hd})
		}
		out[i] = pr
	}
	return &pb.SourceRunResponse{Records: out, Schemas: table.list}, nil
}
