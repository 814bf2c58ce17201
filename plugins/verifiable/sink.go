package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

func sinkConnector() sdk.SinkConnector {
	return sdk.SinkConnector{
		Class:       "org.apache.kafka.connect.tools.VerifiableSinkConnector",
		Aliases:     []string{"VerifiableSinkConnector", "VerifiableSink"},
		TaskClass:   "org.apache.kafka.connect.tools.VerifiableSinkTask",
		Version:     version,
		Config:      []sdk.ConfigDef{outputDef},
		TaskConfigs: taskConfigs,
		Open:        openSink,
	}
}

// sink is one VerifiableSinkTask: it writes a line for every record put,
// and again, with "flushed":true, for every record of a partition whose
// offsets are committed. Lines name the source task (the record's key)
// and its seqno (the value), so a checker can find gaps and duplicates
// per source task in what was delivered.
//
// Without an output file it does nothing: nothing would see its lines.
type sink struct {
	id    int32
	out   *output
	now   func() time.Time
	name  []byte // the connector's name as JSON
	parts map[partition]*unflushed
	line  []byte
}

type partition struct {
	topic string
	part  int32
}

// unflushed holds a partition's records put since its last flush, as the
// start of their lines: each head is `{"task":K,"seqno":V,"offset":O`.
type unflushed struct {
	tail  []byte // `,"name":N,"topic":T,"sinkTask":ID`
	heads []byte
	ends  []int // where each head ends in heads
}

func openSink(_ context.Context, cfg sdk.Config) (sdk.SinkTask, error) {
	return newSink(cfg, time.Now)
}

func newSink(cfg sdk.Config, now func() time.Time) (*sink, error) {
	id, err := taskID(cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid VerifiableSinkTask configuration: %w", err)
	}
	out, err := openOutput(cfg)
	if err != nil {
		return nil, err
	}
	return &sink{id: id, out: out, now: now, name: nameJSON(cfg), parts: map[partition]*unflushed{}}, nil
}

// Put writes a line per record and keeps it for the flush.
// {"task":0,"seqno":7,"offset":42,"time_ms":1700000000000,"name":"sink","topic":"t","sinkTask":1}
func (s *sink) Put(_ context.Context, records []sdk.SinkRecord) error {
	if s.out == nil || len(records) == 0 {
		return nil
	}
	now := s.now().UnixMilli()
	for i := range records {
		r := &records[i]
		p := s.partition(r.Topic, r.Partition)
		start := len(p.heads)
		p.heads = appendValue(append(p.heads, `{"task":`...), r.Key)
		p.heads = appendValue(append(p.heads, `,"seqno":`...), r.Value)
		p.heads = strconv.AppendInt(append(p.heads, `,"offset":`...), r.Offset, 10)
		p.ends = append(p.ends, len(p.heads))
		s.line = appendSinkLine(s.line[:0], p.heads[start:], now, p.tail, false)
		if err := s.out.write(s.line); err != nil {
			return err
		}
	}
	return nil
}

func (s *sink) partition(topic string, part int32) *unflushed {
	key := partition{topic, part}
	p := s.parts[key]
	if p == nil {
		tail := append([]byte(`,"name":`), s.name...)
		tail = appendString(append(tail, `,"topic":`...), topic)
		tail = strconv.AppendInt(append(tail, `,"sinkTask":`...), int64(s.id), 10)
		p = &unflushed{tail: tail}
		s.parts[key] = p
	}
	return p
}

func appendSinkLine(b, head []byte, timeMs int64, tail []byte, flushed bool) []byte {
	b = strconv.AppendInt(append(append(b, head...), `,"time_ms":`...), timeMs, 10)
	b = append(b, tail...)
	if flushed {
		b = append(b, `,"flushed":true`...)
	}
	return append(b, "}\n"...)
}

// PreCommit is Kafka's SinkTask.preCommit, which calls flush(offsets):
// the records put of each partition being committed get a flushed line.
// All offsets may be committed.
func (s *sink) PreCommit(_ context.Context, offsets []sdk.TopicPartition) ([]sdk.TopicPartition, error) {
	for _, o := range offsets {
		if err := s.flush(partition{o.Topic, o.Partition}); err != nil {
			return nil, err
		}
	}
	return offsets, nil
}

// Flush flushes every partition. The SDK calls PreCommit instead; Flush
// is here for the sdk.SinkTask contract.
func (s *sink) Flush(context.Context) error {
	for key := range s.parts {
		if err := s.flush(key); err != nil {
			return err
		}
	}
	return nil
}

// flush writes a flushed line for each record put of key since its last
// flush and forgets them, as Kafka's flush does.
func (s *sink) flush(key partition) error {
	p := s.parts[key]
	if p == nil {
		return nil
	}
	delete(s.parts, key)
	now := s.now().UnixMilli()
	start := 0
	for _, end := range p.ends {
		s.line = appendSinkLine(s.line[:0], p.heads[start:end], now, p.tail, true)
		if err := s.out.write(s.line); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// ReusesRecords lets the SDK reuse records between puts: Put copies what
// it keeps into lines of its own.
func (s *sink) ReusesRecords() {}

func (s *sink) Close() error { return s.out.Close() }

// Interface guards.
var (
	_ sdk.SinkTask          = (*sink)(nil)
	_ sdk.SinkPreCommitter  = (*sink)(nil)
	_ sdk.SinkRecordsReuser = (*sink)(nil)
)
