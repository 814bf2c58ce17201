package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

// fakeClock stands still until the task sleeps, then jumps by the sleep.
// It serves one goroutine.
type fakeClock struct {
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (f *fakeClock) clock() clock {
	return clock{
		now: func() time.Time { return f.t },
		sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			f.sleeps = append(f.sleeps, d)
			f.t = f.t.Add(d)
			return nil
		},
	}
}

// noSleep is a clock for unlimited tasks, which must never wait.
func noSleep(t *testing.T) clock {
	return clock{now: time.Now, sleep: func(context.Context, time.Duration) error {
		t.Error("an unlimited task slept")
		return nil
	}}
}

func sourceConfig(id, rate string) sdk.Config {
	return sdk.Config{"name": "vsrc", "connector.class": "VerifiableSource", "topic": "verifiable", "throughput": rate, "id": id}
}

func openTestSource(t *testing.T, cfg sdk.Config, offsets sdk.Offsets, c clock) *source {
	t.Helper()
	s, err := newSource(t.Context(), cfg, offsets, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func poll(t *testing.T, s *source) []sdk.SourceRecord {
	t.Helper()
	records, err := s.Poll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return records
}

func seqnos(records []sdk.SourceRecord) []int64 {
	var out []int64
	for _, r := range records {
		out = append(out, r.Value.(int64))
	}
	return out
}

// storedOffsets is what the host hands a task at start after storing
// records' offsets: partition JSON to offset decoded from JSON.
func storedOffsets(t *testing.T, records ...sdk.SourceRecord) sdk.Offsets {
	t.Helper()
	offsets := sdk.Offsets{}
	for _, r := range records {
		p, err := json.Marshal(r.Partition)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(r.Offset)
		if err != nil {
			t.Fatal(err)
		}
		var off map[string]any
		if err := json.Unmarshal(b, &off); err != nil {
			t.Fatal(err)
		}
		offsets[string(p)] = off
	}
	return offsets
}

func TestTaskConfigs(t *testing.T) {
	t.Parallel()
	cfg := sdk.Config{"name": "v", "topic": "t", "throughput": "10", "id": "99"}
	for _, max := range []int{0, 1, 3} {
		configs, err := taskConfigs(cfg, max)
		if err != nil {
			t.Fatal(err)
		}
		if len(configs) != max {
			t.Fatalf("max %d: %d configs", max, len(configs))
		}
		for i, tc := range configs {
			want := sdk.Config{"name": "v", "topic": "t", "throughput": "10", "id": string(rune('0' + i))}
			if !reflect.DeepEqual(tc, want) {
				t.Errorf("max %d: config %d = %v, want %v", max, i, tc, want)
			}
		}
	}
	if cfg["id"] != "99" {
		t.Error("taskConfigs changed the connector's config")
	}
}

func TestSourceRecordShape(t *testing.T) {
	t.Parallel()
	s := openTestSource(t, sourceConfig("2", "-1"), nil, noSleep(t))
	records := poll(t, s)
	if len(records) != maxBatch {
		t.Fatalf("unlimited poll returned %d records, want %d", len(records), maxBatch)
	}
	r := records[0]
	want := sdk.SourceRecord{
		Partition: map[string]any{"id": int32(2)}, Offset: map[string]any{"seqno": int64(0)}, Topic: "verifiable",
		KeySchema: sdk.Int32Schema, Key: int32(2), ValueSchema: sdk.Int64Schema, Value: int64(0),
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("record = %+v\nwant %+v", r, want)
	}
	if got := records[maxBatch-1].Offset["seqno"]; got != int64(maxBatch-1) {
		t.Errorf("last offset = %v", got)
	}
}

func TestSourceCompleteRecordData(t *testing.T) {
	t.Parallel()
	cfg := sourceConfig("1", "-1")
	cfg["complete.record.data"] = "true"
	fc := newFakeClock()
	s := openTestSource(t, cfg, nil, fc.clock())
	r := poll(t, s)[3]
	v, ok := r.Value.(*sdk.StructValue)
	if !ok || r.ValueSchema != completeSchema {
		t.Fatalf("value %#v with schema %v", r.Value, r.ValueSchema)
	}
	want := []any{"vsrc", int32(1), "verifiable", fc.t.UnixMilli(), int64(3)}
	if !reflect.DeepEqual(v.Values, want) {
		t.Errorf("struct = %#v, want %#v", v.Values, want)
	}
}

// A restarted task goes on with the seqno after its committed offset, so
// its seqnos have neither gaps nor duplicates across restarts; each task
// reads only its own partition's offset.
func TestSourceResumesAfterCommittedOffset(t *testing.T) {
	t.Parallel()
	first := openTestSource(t, sourceConfig("0", "-1"), nil, noSleep(t))
	run1 := append(poll(t, first), poll(t, first)...)
	other := openTestSource(t, sourceConfig("1", "-1"), nil, noSleep(t))
	otherRun := poll(t, other)
	// Committed: up to record 1500 of task 0, and all of task 1's.
	committed := run1[:1501]
	offsets := storedOffsets(t, committed[len(committed)-1], otherRun[len(otherRun)-1])

	second := openTestSource(t, sourceConfig("0", "-1"), offsets, noSleep(t))
	run2 := poll(t, second)
	got := append(seqnos(committed), seqnos(run2)...)
	for i, n := range got {
		if n != int64(i) {
			t.Fatalf("seqno %d at position %d: the restart left a gap or a duplicate", n, i)
		}
	}
	if s := seqnos(poll(t, openTestSource(t, sourceConfig("1", "-1"), offsets, noSleep(t)))); s[0] != maxBatch {
		t.Errorf("task 1 resumed at %d, want %d", s[0], maxBatch)
	}
	if s := seqnos(poll(t, openTestSource(t, sourceConfig("2", "-1"), offsets, noSleep(t)))); s[0] != 0 {
		t.Errorf("task 2, with no offset, started at %d", s[0])
	}
}

func TestSourceRejectsBadOffset(t *testing.T) {
	t.Parallel()
	for _, off := range []map[string]any{{}, {"seqno": "7"}, {"seqno": 1.5}} {
		_, err := newSource(t.Context(), sourceConfig("0", "1"), sdk.Offsets{`{"id":0}`: off}, newFakeClock().clock())
		if err == nil || !strings.Contains(err.Error(), "seqno") {
			t.Errorf("offset %v: err = %v", off, err)
		}
	}
	if _, err := newSource(t.Context(), sourceConfig("x", "1"), nil, newFakeClock().clock()); err == nil {
		t.Error("task id x accepted")
	}
}

// By t seconds after its start a task has produced at most
// floor(throughput*t)+1 records, as Kafka's ThroughputThrottler allows;
// on a fake clock it keeps up with that pace exactly.
func TestSourcePacing(t *testing.T) {
	t.Parallel()
	fc := newFakeClock()
	s := openTestSource(t, sourceConfig("0", "100"), nil, fc.clock())
	start := fc.t
	total := 0
	for fc.t.Sub(start) < 10*time.Second {
		total += len(poll(t, s))
		if ceiling := int(math.Floor(100*fc.t.Sub(start).Seconds())) + 1; total > ceiling {
			t.Fatalf("%d records by %s, over the %d allowed", total, fc.t.Sub(start), ceiling)
		}
	}
	if total < 1000 {
		t.Errorf("%d records in 10 s at 100/s", total)
	}
	for _, d := range fc.sleeps {
		if d < minSleep {
			t.Fatalf("slept %s, under %s", d, minSleep)
		}
	}

	// A task held up (a slow broker) catches up in batches of at most
	// maxBatch.
	fc.t = fc.t.Add(20 * time.Second)
	if n := len(poll(t, s)); n != maxBatch {
		t.Errorf("after 20 s away: %d records, want %d", n, maxBatch)
	}
}

// On the wall clock, pacing only ever holds records back: the ceiling is
// checked, not a rate, so a slow machine cannot fail the test.
func TestSourcePacingWallClock(t *testing.T) {
	t.Parallel()
	s := openTestSource(t, sourceConfig("0", "1000"), nil, wallClock)
	total := 0
	for range 5 {
		total += len(poll(t, s))
		if ceiling := int(math.Floor(1000*time.Since(s.start).Seconds())) + 1; total > ceiling {
			t.Fatalf("%d records after %s, over the %d allowed", total, time.Since(s.start), ceiling)
		}
	}
}

// Throughput 0 lets one record out, then none, as Kafka's throttler; the
// task still stops when asked.
func TestSourceThroughputZero(t *testing.T) {
	t.Parallel()
	s := openTestSource(t, sourceConfig("0", "0"), nil, newFakeClock().clock())
	if n := len(poll(t, s)); n != 1 {
		t.Fatalf("first poll: %d records", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	records, err := s.Poll(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || len(records) != 0 {
		t.Errorf("second poll: %d records, err %v", len(records), err)
	}
}

func TestSourceOutputLines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	cfg := sourceConfig("3", "1")
	cfg[outputKey] = path
	fc := newFakeClock()
	s := openTestSource(t, cfg, storedOffsets(t, sdk.SourceRecord{Partition: map[string]any{"id": 3}, Offset: map[string]any{"seqno": 9}}), fc.clock())
	poll(t, s) // seqno 10 at once, then one a second
	poll(t, s)
	poll(t, s)
	// The host hands committed offsets over as decoded JSON.
	commit := func(seqno float64) {
		t.Helper()
		err := s.Commit(t.Context(), []sdk.Offset{{Partition: map[string]any{"id": float64(3)}, Offset: map[string]any{"seqno": seqno}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	commit(11)
	commit(11) // nothing new
	commit(12)
	s.Commit(t.Context(), []sdk.Offset{{Partition: map[string]any{"id": float64(4)}, Offset: map[string]any{"seqno": float64(99)}}})

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"task":3,"seqno":10,"time_ms":1700000000000,"name":"vsrc","topic":"verifiable"}
{"task":3,"seqno":11,"time_ms":1700000001000,"name":"vsrc","topic":"verifiable"}
{"task":3,"seqno":12,"time_ms":1700000002000,"name":"vsrc","topic":"verifiable"}
{"committed":true,"task":3,"seqno":10,"time_ms":1700000002000,"name":"vsrc","topic":"verifiable"}
{"committed":true,"task":3,"seqno":11,"time_ms":1700000002000,"name":"vsrc","topic":"verifiable"}
{"committed":true,"task":3,"seqno":12,"time_ms":1700000002000,"name":"vsrc","topic":"verifiable"}
`
	if string(b) != want {
		t.Errorf("output:\n%s\nwant:\n%s", b, want)
	}
}

// A name that needs escaping, and none at all (Kafka prints null).
func TestSourceOutputName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, want := range map[string]string{
		"a \"quoted\"\\\n\x01 naïve": `"name":"a \"quoted\"\\\n\u0001 naïve"`,
		"":                           `"name":null`,
	} {
		cfg := sourceConfig("0", "-1")
		cfg[outputKey] = filepath.Join(dir, "out.jsonl")
		if name == "" {
			delete(cfg, "name")
		} else {
			cfg["name"] = name
		}
		s := openTestSource(t, cfg, nil, noSleep(t))
		s.line = s.appendLine(nil, s.sentHead, 0, 0)
		if !strings.Contains(string(s.line), want) || !json.Valid(s.line) {
			t.Errorf("line %s, want it to hold %s", s.line, want)
		}
	}
}

// Tasks of one process, and of several, append to one file: every line
// must come out whole. Each task's commits arrive on another goroutine
// while it polls, as the SDK delivers them.
func TestSourcesShareOutputFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	const tasks, polls = 4, 3
	var wg sync.WaitGroup
	for id := range tasks {
		cfg := sourceConfig(string(rune('0'+id)), "-1")
		cfg[outputKey] = path
		s := openTestSource(t, cfg, nil, wallClock)
		wg.Go(func() {
			for range polls {
				if _, err := s.Poll(t.Context()); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for seqno := range polls * maxBatch / 100 {
				offset := []sdk.Offset{{Partition: map[string]any{"id": float64(id)}, Offset: map[string]any{"seqno": float64(seqno * 100)}}}
				if err := s.Commit(t.Context(), offset); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]map[int64]int{}
	committed := 0
	for line := range strings.Lines(string(b)) {
		var v struct {
			Task      int
			Seqno     int64
			Committed bool
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if v.Committed {
			committed++
			continue
		}
		if seen[v.Task] == nil {
			seen[v.Task] = map[int64]int{}
		}
		seen[v.Task][v.Seqno]++
	}
	if want := tasks * ((polls*maxBatch/100-1)*100 + 1); committed != want {
		t.Errorf("%d committed lines, want %d", committed, want)
	}
	for id := range tasks {
		if len(seen[id]) != polls*maxBatch {
			t.Errorf("task %d: %d distinct seqnos, want %d", id, len(seen[id]), polls*maxBatch)
		}
		for seqno, n := range seen[id] {
			if n != 1 || seqno < 0 || seqno >= polls*maxBatch {
				t.Errorf("task %d: seqno %d seen %d times", id, seqno, n)
			}
		}
	}
}
