package sdk

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	pb "github.com/ferry-connect/ferry/proto/gen/ferry/plugin/v1"
	"github.com/ferry-connect/ferry/sdk/go/codec"
)

// reusingSource hands out the same records, offset maps and value buffer
// on every poll, rewritten: what Poll's contract allows.
type reusingSource struct {
	records []SourceRecord
	value   []byte
	polls   int
}

func (s *reusingSource) Poll(ctx context.Context) ([]SourceRecord, error) {
	if s.polls == 4 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s.polls++
	for i := range s.records {
		s.records[i].Offset["n"] = s.polls*10 + i
	}
	for i := range s.value {
		s.value[i] = byte('0' + s.polls)
	}
	return s.records, nil
}

func (s *reusingSource) Close() error { return nil }

// sourceStream is the host's side of a source task's stream: it opens the
// task, keeps every batch it is sent, and ends the stream after want.
type sourceStream struct {
	grpc.ServerStream
	ctx     context.Context
	opened  bool
	want    int
	batches []*pb.SourceRunResponse
	enough  chan struct{}
}

func (s *sourceStream) Context() context.Context { return s.ctx }

func (s *sourceStream) Recv() (*pb.SourceRunRequest, error) {
	if !s.opened {
		s.opened = true
		return &pb.SourceRunRequest{Msg: &pb.SourceRunRequest_Open{Open: &pb.SourceOpen{Class: "Reusing"}}}, nil
	}
	select {
	case <-s.enough:
	case <-s.ctx.Done():
	}
	return nil, io.EOF
}

func (s *sourceStream) Send(*pb.SourceRunResponse) error {
	return fmt.Errorf("batches go through SendMsg")
}

func (s *sourceStream) SendMsg(m any) error {
	e, ok := m.(codec.Encoded)
	if !ok {
		return fmt.Errorf("sent %T, not an encoded batch", m)
	}
	var batch pb.SourceRunResponse
	if err := batch.UnmarshalVT(*e.Buf); err != nil {
		return err
	}
	e.Pool.Put(e.Buf)
	s.batches = append(s.batches, &batch)
	if len(s.batches) == s.want {
		close(s.enough)
	}
	return nil
}

// Each batch carries what its records held when Poll returned them, though
// the task rewrites them at its next poll.
func TestSourceRecordsReusedAfterNextPoll(t *testing.T) {
	task := &reusingSource{value: []byte("....")}
	partition := map[string]any{"p": "x"}
	for range 3 {
		task.records = append(task.records, SourceRecord{Partition: partition, Offset: map[string]any{}, Topic: "t",
			ValueSchema: BytesSchema, Value: task.value})
	}
	srv := &server{log: hclog.NewNullLogger(), plugin: Plugin{Sources: []SourceConnector{{Class: "Reusing",
		Open: func(context.Context, Config, Offsets) (SourceTask, error) { return task, nil }}}}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream := &sourceStream{ctx: ctx, want: 4, enough: make(chan struct{})}
	_ = (&sourceServer{srv: srv}).Run(stream) // ends with the stream's EOF

	for b, batch := range stream.batches {
		poll := b + 1
		for i, r := range batch.Records {
			wantOffset := fmt.Sprintf(`{"n":%d}`, poll*10+i)
			wantValue := fmt.Sprintf("%d%d%d%d", poll, poll, poll, poll)
			if string(r.SourceOffset) != wantOffset || string(r.Value.GetRaw()) != wantValue {
				t.Errorf("poll %d record %d: offset %s value %q, want %s %q", poll, i, r.SourceOffset, r.Value.GetRaw(), wantOffset, wantValue)
			}
		}
	}
	if len(stream.batches) != 4 {
		t.Errorf("got %d batches, want 4", len(stream.batches))
	}
}
