package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	sdk "github.com/ferry-connect/ferry/sdk/go"
	"github.com/ferry-connect/ferry/sdk/go/handshake"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// Put writes what the task saw; a commit writes it again as flushed, for
// the partitions being committed only, as Kafka's flush(offsets).
func TestSinkLines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	now := time.UnixMilli(1_700_000_000_000)
	s, err := newSink(sdk.Config{"name": "vsink", "id": "1", "topics": "a,b", outputKey: path}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The SDK reuses records between puts: the task must keep copies.
	records := []sdk.SinkRecord{
		{Topic: "a", Partition: 0, Offset: 40, KeySchema: sdk.Int32Schema, Key: int32(0), ValueSchema: sdk.Int64Schema, Value: int64(7)},
		{Topic: "a", Partition: 1, Offset: 5, Key: int64(2), Value: int64(0)},
		{Topic: "a", Partition: 0, Offset: 41, Key: int32(0), Value: int64(8)},
	}
	if err := s.Put(t.Context(), records); err != nil {
		t.Fatal(err)
	}
	for i := range records {
		records[i] = sdk.SinkRecord{Topic: "x", Key: "overwritten", Value: "overwritten"}
	}
	now = now.Add(time.Second)
	committed := []sdk.TopicPartition{{Topic: "a", Partition: 0, Offset: 42}, {Topic: "b", Partition: 0, Offset: 3}}
	got, err := s.PreCommit(t.Context(), committed)
	if err != nil || !reflect.DeepEqual(got, committed) {
		t.Fatalf("PreCommit = %v, %v; want every offset back", got, err)
	}
	now = now.Add(time.Second)
	s.PreCommit(t.Context(), committed) // nothing new
	s.PreCommit(t.Context(), []sdk.TopicPartition{{Topic: "a", Partition: 1, Offset: 6}})

	want := []string{
		`{"task":0,"seqno":7,"offset":40,"time_ms":1700000000000,"name":"vsink","topic":"a","sinkTask":1}`,
		`{"task":2,"seqno":0,"offset":5,"time_ms":1700000000000,"name":"vsink","topic":"a","sinkTask":1}`,
		`{"task":0,"seqno":8,"offset":41,"time_ms":1700000000000,"name":"vsink","topic":"a","sinkTask":1}`,
		`{"task":0,"seqno":7,"offset":40,"time_ms":1700000001000,"name":"vsink","topic":"a","sinkTask":1,"flushed":true}`,
		`{"task":0,"seqno":8,"offset":41,"time_ms":1700000001000,"name":"vsink","topic":"a","sinkTask":1,"flushed":true}`,
		`{"task":2,"seqno":0,"offset":5,"time_ms":1700000002000,"name":"vsink","topic":"a","sinkTask":1,"flushed":true}`,
	}
	if lines := readLines(t, path); !reflect.DeepEqual(lines, want) {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// Flush, which the SDK does not call when PreCommit exists, flushes all.
func TestSinkFlushAll(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s, err := newSink(sdk.Config{"id": "0", outputKey: path}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Put(t.Context(), []sdk.SinkRecord{{Topic: "a", Key: int32(0), Value: int64(1)}, {Topic: "b", Partition: 3, Key: int32(1), Value: int64(1)}})
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	flushed := 0
	for _, l := range readLines(t, path) {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		if v["name"] != nil {
			t.Errorf("no name configured, line %s", l)
		}
		if v["flushed"] == true {
			flushed++
		}
	}
	if flushed != 2 || len(s.parts) != 0 {
		t.Errorf("%d flushed lines, %d partitions left", flushed, len(s.parts))
	}
}

// Without an output file a sink keeps nothing.
func TestSinkWithoutOutput(t *testing.T) {
	t.Parallel()
	s, err := newSink(sdk.Config{"id": "0"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s.Put(t.Context(), []sdk.SinkRecord{{Topic: "a", Value: int64(1)}})
	if len(s.parts) != 0 {
		t.Error("sink without output kept records")
	}
	if _, err := newSink(sdk.Config{}, time.Now); err == nil {
		t.Error("sink task without id accepted")
	}
}

// Whoever can create a connector must not have the worker append to a
// file outside ferry.allowed.paths.
func TestOutputAllowedPath(t *testing.T) {
	allowed, outside := t.TempDir(), t.TempDir()
	t.Setenv(handshake.EnvAllowedPaths, allowed)
	in, out := filepath.Join(allowed, "out.jsonl"), filepath.Join(outside, "out.jsonl")
	for v, ok := range map[string]bool{"": true, in: true, out: false} {
		if err := allowedOutput(v); (err == nil) != ok {
			t.Errorf("allowedOutput(%q) = %v", v, err)
		}
	}
	if _, err := newSink(sdk.Config{"id": "0", outputKey: out}, time.Now); err == nil || !strings.Contains(err.Error(), outputKey) {
		t.Errorf("sink opened output outside the allowed paths: %v", err)
	}
	cfg := sourceConfig("0", "1")
	cfg[outputKey] = out
	if _, err := newSource(t.Context(), cfg, nil, wallClock); err == nil {
		t.Error("source opened output outside the allowed paths")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("output file created outside the allowed paths")
	}
}

func TestAppendValue(t *testing.T) {
	t.Parallel()
	point := &sdk.Schema{Type: sdk.Struct, Fields: []sdk.Field{{Name: "y", Schema: sdk.Int32Schema}, {Name: "x", Schema: sdk.Int32Schema}}}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, `null`},
		{int32(-3), `-3`},
		{int64(math.MaxInt64), `9223372036854775807`},
		{1.5, `1.5`},
		{math.NaN(), `"NaN"`},
		{math.Inf(-1), `"-Infinity"`},
		{true, `true`},
		{"é\"\t", `"é\"\t"`},
		{"\xff", `"\uFFFD"`},
		{[]byte("hi"), `"aGk="`},
		{time.UnixMilli(1234), `1234`},
		{[]any{int64(1), "a"}, `[1,"a"]`},
		{map[string]any{"b": int64(1), "a": nil}, `{"a":null,"b":1}`},
		{[]sdk.MapEntry{{Key: int32(1), Value: "one"}}, `{"1":"one"}`},
		{sdk.NewStruct(point).Set("x", int32(1)).Set("y", int32(2)), `{"y":2,"x":1}`},
	} {
		got := appendValue(nil, tc.v)
		if string(got) != tc.want || !json.Valid(got) {
			t.Errorf("appendValue(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

// The classes are Kafka's, with Kafka's aliases.
func TestClasses(t *testing.T) {
	t.Parallel()
	src, snk := sourceConnector(), sinkConnector()
	if src.Class != "org.apache.kafka.connect.tools.VerifiableSourceConnector" || !reflect.DeepEqual(src.Aliases, []string{"VerifiableSourceConnector", "VerifiableSource"}) ||
		src.TaskClass != "org.apache.kafka.connect.tools.VerifiableSourceTask" {
		t.Errorf("source class %s %v %s", src.Class, src.Aliases, src.TaskClass)
	}
	if snk.Class != "org.apache.kafka.connect.tools.VerifiableSinkConnector" || !reflect.DeepEqual(snk.Aliases, []string{"VerifiableSinkConnector", "VerifiableSink"}) ||
		snk.TaskClass != "org.apache.kafka.connect.tools.VerifiableSinkTask" {
		t.Errorf("sink class %s %v %s", snk.Class, snk.Aliases, snk.TaskClass)
	}
	keys := map[string]bool{}
	for _, d := range src.Config {
		keys[d.Name] = d.Required
	}
	if want := map[string]bool{"topic": true, "throughput": true, "complete.record.data": false, outputKey: false}; !reflect.DeepEqual(keys, want) {
		t.Errorf("source keys (required) = %v, want %v", keys, want)
	}
}
