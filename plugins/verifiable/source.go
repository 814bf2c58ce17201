package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

func sourceConnector() sdk.SourceConnector {
	return sdk.SourceConnector{
		Class:     "org.apache.kafka.connect.tools.VerifiableSourceConnector",
		Aliases:   []string{"VerifiableSourceConnector", "VerifiableSource"},
		TaskClass: "org.apache.kafka.connect.tools.VerifiableSourceTask",
		Version:   version,
		Config: []sdk.ConfigDef{
			{Name: topicKey, Type: sdk.TypeString, Required: true, Doc: "The topic every task produces to", Validate: notEmpty},
			{Name: throughputKey, Type: sdk.TypeLong, Required: true,
				Doc: "Records per second each task produces, at most; negative: no limit; 0: one record, then none"},
			{Name: completeKey, Type: sdk.TypeBoolean, Default: "false",
				Doc: "Whether a record's value is a struct of name, task, topic, time_ms and seqno instead of the seqno alone"},
			outputDef,
		},
		TaskConfigs: taskConfigs,
		Open:        openSource,
	}
}

func notEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// completeSchema is the value schema with complete.record.data=true, as
// Kafka's COMPLETE_VALUE_SCHEMA.
var completeSchema = &sdk.Schema{Type: sdk.Struct, Fields: []sdk.Field{
	{Name: "name", Schema: sdk.StringSchema},
	{Name: "task", Schema: sdk.Int32Schema},
	{Name: "topic", Schema: sdk.StringSchema},
	{Name: "time_ms", Schema: sdk.Int64Schema},
	{Name: "seqno", Schema: sdk.Int64Schema},
}}

// maxBatch bounds the records one Poll returns. Kafka's task returns one
// record per poll; here that would cost a stream message per record.
const maxBatch = 1000

// minSleep is the shortest wait for the next record, as the 2 ms of
// Kafka's ThroughputThrottler: at high rates records then come in batches
// rather than one per timer.
const minSleep = 2 * time.Millisecond

// clock is the time a source paces itself by; tests use a fake one.
type clock struct {
	now func() time.Time
	// sleep waits d or until ctx is done, then returns ctx.Err().
	sleep func(ctx context.Context, d time.Duration) error
}

var wallClock = clock{now: time.Now, sleep: sleepCtx}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ctx.Err()
}

// source is one VerifiableSourceTask: it produces records numbered
// seqno 0, 1, 2, ... to topic, with its task id as key and the seqno as
// value, at most throughput per second. Its source partition is
// {"id": task id} and a record's offset {"seqno": its seqno}, as Kafka's;
// a restarted task goes on with the seqno after its committed offset.
//
// Poll and Commit run on different goroutines: Poll owns the fields from
// next down, Commit owns committed and commitLine; the rest is fixed at
// Open.
type source struct {
	id        int32
	name      string
	topic     string
	rate      int64 // records per second; negative: no limit
	complete  bool
	partition map[string]any
	out       *output
	clock     clock
	start     time.Time // the pace is counted from here, the task's start
	first     int64     // the first seqno of this run
	// sentHead, commitHead and tail are the fixed parts of the lines.
	sentHead, commitHead, tail []byte

	next int64 // seqno of the next record
	line []byte

	committed  int64 // the last seqno written as committed
	commitLine []byte
}

func openSource(ctx context.Context, cfg sdk.Config, offsets sdk.Offsets) (sdk.SourceTask, error) {
	return newSource(ctx, cfg, offsets, wallClock)
}

func newSource(ctx context.Context, cfg sdk.Config, offsets sdk.Offsets, c clock) (*source, error) {
	id, err := taskID(cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid VerifiableSourceTask configuration: %w", err)
	}
	rate, err := strconv.ParseInt(strings.TrimSpace(cfg.String(throughputKey)), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("invalid VerifiableSourceTask configuration: %s %q: %w", throughputKey, cfg.String(throughputKey), err)
	}
	s := &source{
		id:        id,
		name:      cfg.String(nameKey),
		topic:     cfg.String(topicKey),
		rate:      rate,
		complete:  cfg.Bool(completeKey),
		partition: map[string]any{"id": id},
		clock:     c,
	}
	if off := offsets.Get(s.partition); off != nil {
		last, ok := asInt64(off["seqno"])
		if !ok {
			return nil, fmt.Errorf("stored offset %v of task %d has no integer seqno", off, id)
		}
		s.first = last + 1
	}
	s.next, s.committed = s.first, s.first-1
	if s.out, err = openOutput(cfg); err != nil {
		return nil, err
	}
	// {"task":0,"seqno":7,"time_ms":1700000000000,"name":"src","topic":"t"}
	task := strconv.AppendInt(nil, int64(id), 10)
	s.sentHead = append(append([]byte(`{"task":`), task...), `,"seqno":`...)
	s.commitHead = append([]byte(`{"committed":true,`), s.sentHead[1:]...)
	s.tail = append(append([]byte(`,"name":`), nameJSON(cfg)...), `,"topic":`...)
	s.tail = append(appendString(s.tail, s.topic), "}\n"...)
	s.start = c.now()
	// The logger already names the connector and task.
	sdk.Logger(ctx).Info("started VerifiableSourceTask", "topic", s.topic, "seqno", s.first)
	return s, nil
}

// Poll returns the records due by now, at least one: it waits until the
// next is due or ctx is done.
func (s *source) Poll(ctx context.Context) ([]sdk.SourceRecord, error) {
	n, err := s.due(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.now().UnixMilli()
	records := make([]sdk.SourceRecord, n)
	for i := range records {
		seqno := s.next
		if s.out != nil {
			s.line = s.appendLine(s.line[:0], s.sentHead, seqno, now)
			if err := s.out.write(s.line); err != nil {
				return nil, err
			}
		}
		var value any = seqno
		valueSchema := sdk.Int64Schema
		if s.complete {
			valueSchema = completeSchema
			value = sdk.NewStruct(completeSchema).Set("name", s.name).Set("task", s.id).
				Set("topic", s.topic).Set("time_ms", now).Set("seqno", seqno)
		}
		records[i] = sdk.SourceRecord{
			Partition:   s.partition,
			Offset:      map[string]any{"seqno": seqno},
			Topic:       s.topic,
			KeySchema:   sdk.Int32Schema,
			Key:         s.id,
			ValueSchema: valueSchema,
			Value:       value,
		}
		s.next++
	}
	return records, nil
}

// due waits until records are due and returns how many, at most maxBatch.
// As Kafka's ThroughputThrottler, it paces the average since the start:
// by t seconds after it, floor(rate*t)+1 records may have gone out. So the
// first record goes at once, a task that fell behind (a slow broker)
// catches up in batches, and a rate of 0 lets one record out and no more.
func (s *source) due(ctx context.Context) (int, error) {
	if s.rate < 0 {
		return maxBatch, nil
	}
	sent := float64(s.next - s.first)
	for {
		elapsed := s.clock.now().Sub(s.start)
		if n := math.Floor(float64(s.rate)*elapsed.Seconds()) + 1 - sent; n >= 1 {
			return int(min(n, maxBatch)), nil
		}
		if s.rate == 0 {
			<-ctx.Done()
			return 0, ctx.Err()
		}
		// The next record is due when rate*t reaches sent.
		wait := time.Duration(sent/float64(s.rate)*float64(time.Second)) - elapsed
		if err := s.clock.sleep(ctx, max(wait, minSleep)); err != nil {
			return 0, err
		}
	}
}

// appendLine appends the line for seqno: head, seqno, time and tail.
func (s *source) appendLine(b, head []byte, seqno, timeMs int64) []byte {
	b = strconv.AppendInt(append(b, head...), seqno, 10)
	b = strconv.AppendInt(append(b, `,"time_ms":`...), timeMs, 10)
	return append(b, s.tail...)
}

// Commit writes a committed line for every seqno up to each committed
// offset, as Kafka's task does for every record in commitRecord.
//
// Kafka calls commitRecord once Kafka has acknowledged the record; Ferry
// tells a task of its offsets once they are stored as well, every
// offset.flush.interval.ms. It does not tell the task of the last commit
// when the task stops: the seqnos of that commit get no committed line,
// though they are committed (the restarted task goes on after them).
func (s *source) Commit(_ context.Context, offsets []sdk.Offset) error {
	if s.out == nil {
		return nil
	}
	for _, o := range offsets {
		if id, ok := asInt64(o.Partition["id"]); !ok || id != int64(s.id) {
			continue
		}
		seqno, ok := asInt64(o.Offset["seqno"])
		if !ok {
			return fmt.Errorf("committed offset %v of task %d has no integer seqno", o.Offset, s.id)
		}
		now := s.clock.now().UnixMilli()
		for s.committed < seqno {
			s.committed++
			s.commitLine = s.appendLine(s.commitLine[:0], s.commitHead, s.committed, now)
			if err := s.out.write(s.commitLine); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *source) Close() error { return s.out.Close() }

// asInt64 reads an integer from a decoded offset or partition: the SDK
// hands them over as JSON decodes them (float64).
func asInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, false
		}
		return int64(v), true
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case int:
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	}
	return 0, false
}

// Interface guards.
var (
	_ sdk.SourceTask      = (*source)(nil)
	_ sdk.SourceCommitter = (*source)(nil)
)
