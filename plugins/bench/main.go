// Command bench is a plugin for measuring Ferry itself: BenchSource makes
// records out of thin air as fast as it is asked to, and BenchSink counts
// and discards them. `make bench` uses both; they are also handy for load
// tests of a worker and its broker.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

var version = "0.1.0"

func main() {
	sdk.Serve(sdk.Plugin{
		Name:    "bench",
		Version: version,
		Sources: []sdk.SourceConnector{{
			Class:   "dev.ferry.bench.BenchSource",
			Aliases: []string{"BenchSource"},
			Version: version,
			Config: []sdk.ConfigDef{
				{Name: "topic", Type: sdk.TypeString, Required: true, Doc: "topic to write to"},
				{Name: "records", Type: sdk.TypeLong, Required: true, Doc: "how many records to make; then the task idles", Validate: sdk.AtLeast(0)},
				{Name: "record.bytes", Type: sdk.TypeInt, Default: "100", Doc: "size of each record's value", Validate: sdk.AtLeast(0)},
				{Name: "batch.size", Type: sdk.TypeInt, Default: "2000", Doc: "records per poll", Validate: sdk.AtLeast(1)},
			},
			Open: openSource,
		}},
		Sinks: []sdk.SinkConnector{{
			Class:   "dev.ferry.bench.BenchSink",
			Aliases: []string{"BenchSink"},
			Version: version,
			Config: []sdk.ConfigDef{
				{Name: "count.file", Type: sdk.TypeString, Doc: "if set, the number of records received so far is written here after every batch"},
			},
			Open: openSink,
		}},
	})
}

// source emits records.bytes-sized BYTES values, resuming after the last
// committed record number.
type source struct {
	topic     string
	next, end int64
	batch     int
	value     []byte
	partition map[string]any
	// The SDK is done with a poll's records when Poll is next called:
	// they and their offset maps are reused.
	records []sdk.SourceRecord
}

func openSource(_ context.Context, cfg sdk.Config, offsets sdk.Offsets) (sdk.SourceTask, error) {
	end, _ := strconv.ParseInt(cfg.String("records"), 10, 64)
	s := &source{topic: cfg.String("topic"), end: end, batch: cfg.Int("batch.size"), value: make([]byte, cfg.Int("record.bytes"))}
	s.partition = map[string]any{"bench": s.topic}
	if off := offsets.Get(s.partition); off != nil {
		n, ok := off["next"].(float64)
		if !ok {
			return nil, fmt.Errorf("stored offset %v has no numeric next", off)
		}
		s.next = int64(n)
	}
	return s, nil
}

func (s *source) Poll(ctx context.Context) ([]sdk.SourceRecord, error) {
	if s.next >= s.end {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	n := min(int64(s.batch), s.end-s.next)
	for int64(len(s.records)) < n {
		s.records = append(s.records, sdk.SourceRecord{
			Partition:   s.partition,
			Offset:      map[string]any{},
			Topic:       s.topic,
			ValueSchema: sdk.BytesSchema,
			Value:       s.value,
		})
	}
	out := s.records[:n]
	for i := range out {
		s.next++
		out[i].Offset["next"] = s.next
	}
	return out, nil
}

func (s *source) Close() error { return nil }

// sink counts records and throws them away.
type sink struct {
	count int64
	// countFile, if set, is rewritten in place after every put: one write
	// instead of an open, write and close (the harness polls it, and the
	// three system calls per put were a tenth of the plugin's CPU). The
	// count only grows, so a rewrite never leaves old digits behind.
	countFile *os.File
	buf       []byte
}

func openSink(_ context.Context, cfg sdk.Config) (sdk.SinkTask, error) {
	s := &sink{}
	if name := cfg.String("count.file"); name != "" {
		f, err := os.Create(name)
		if err != nil {
			return nil, fmt.Errorf("count.file: %w", err)
		}
		s.countFile = f
	}
	return s, nil
}

func (s *sink) Put(_ context.Context, records []sdk.SinkRecord) error {
	s.count += int64(len(records))
	if s.countFile == nil {
		return nil
	}
	s.buf = strconv.AppendInt(s.buf[:0], s.count, 10)
	if _, err := s.countFile.WriteAt(s.buf, 0); err != nil {
		return fmt.Errorf("write count.file: %w", err)
	}
	return nil
}

// ReusesRecords lets the SDK reuse records between puts: they are only
// counted.
func (s *sink) ReusesRecords() {}

func (s *sink) Flush(context.Context) error { return nil }

func (s *sink) Close() error {
	if s.countFile == nil {
		return nil
	}
	return s.countFile.Close()
}
