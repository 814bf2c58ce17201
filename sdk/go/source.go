package sdk

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
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
	enc := newSourceEncoder()
	bufs := &codec.Pool{}
	var pollErr error
	for pollErr == nil {
		var records []SourceRecord
		records, pollErr = task.Poll(ctx)
		for len(records) > 0 {
			n := len(records)
			if maxBatch > 0 && n > maxBatch {
				n = maxBatch
			}
			buf := bufs.Get(0)
			*buf, err = enc.encode(*buf, records[:n])
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "task %d: %v", open.TaskId, err)
			}
			if err := stream.SendMsg(codec.Encoded{Buf: buf, Pool: bufs}); err != nil {
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
