package store

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-connect/ferry/host/kafka"
	"github.com/ferry-connect/ferry/host/offsets"
	"github.com/ferry-connect/ferry/host/task"
)

func openOffsets(t *testing.T, spec kafka.TopicSpec, logs *logBuffer) *KafkaOffsets {
	t.Helper()
	s, err := OpenKafkaOffsets(testCtx(t), testOptions(t, "worker", logs), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func offset(partition, value string) offsets.Offset {
	return offsets.Offset{Partition: []byte(partition), Offset: []byte(value)}
}

func wantOffsets(t *testing.T, s *KafkaOffsets, connector string, want ...offsets.Offset) {
	t.Helper()
	if got := s.Get(connector); !reflect.DeepEqual(got, want) {
		t.Errorf("Get(%q) = %s, want %s", connector, got, want)
	}
}

// A worker's offsets are what a second worker reads; Delete resets them.
func TestKafkaOffsetsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	spec := testSpec(t, 5)
	a := openOffsets(t, spec, nil)
	b := openOffsets(t, spec, nil)
	fa, fb := offset(`{"file":"a"}`, `{"pos":1}`), offset(`{"file":"b"}`, `{"pos":2}`)
	if err := a.Put("src", []offsets.Offset{fa, fb}); err != nil {
		t.Fatal(err)
	}
	other := offset(`{"file":"a"}`, `{"pos":9}`)
	if err := a.Put("src-2", []offsets.Offset{other}); err != nil {
		t.Fatal(err)
	}
	wantOffsets(t, a, "src", fa, fb)
	if err := b.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	wantOffsets(t, b, "src", fa, fb)
	wantOffsets(t, b, "src-2", other)
	if got := lastValue(t, readRaw(t, spec), `["src",{"file":"a"}]`); got != `{"pos":1}` {
		t.Errorf(`["src",{"file":"a"}] = %s`, got)
	}

	fa2 := offset(`{"file":"a"}`, `{"pos":3}`)
	if err := a.Put("src", []offsets.Offset{fa2}); err != nil {
		t.Fatal(err)
	}
	if err := b.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	wantOffsets(t, b, "src", fa2, fb)

	if err := a.Delete("src"); err != nil {
		t.Fatal(err)
	}
	wantOffsets(t, a, "src")
	if err := b.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	wantOffsets(t, b, "src")
	wantOffsets(t, b, "src-2", other)
	wantOffsets(t, openOffsets(t, spec, nil), "src")

	if err := a.Put("src", []offsets.Offset{offset(`not json`, `{}`)}); err == nil || !strings.Contains(err.Error(), "src") {
		t.Errorf("Put of a partition that is not JSON: %v", err)
	}
}

// Kafka Connect writes a partition's key with Jackson (members in its
// map's order, 1.0E21); a Go plugin's JSON of the same partition differs.
// Get finds the partition Java wrote, and Put writes it back under Java's
// key, so that the compacted topic keeps one key for it.
func TestKafkaOffsetsJavaKeys(t *testing.T) {
	t.Parallel()
	spec := testSpec(t, 5)
	var javaKey, javaValue []byte
	for _, r := range loadKafkaRecords(t)["offsets"] {
		if bytes.HasPrefix(r.key, []byte(`["plain",`)) {
			javaKey, javaValue = r.key, r.value
		}
	}
	const javaPartition = `{"filename":"plain","n":42,"i":-7,"d":1.5,"big":1.0E21,"ok":true,"none":null}`
	if string(javaKey) != `["plain",`+javaPartition+`]` {
		t.Fatalf("testdata's key is %s", javaKey)
	}
	sendRaw(t, spec, string(javaKey), string(javaValue))
	s := openOffsets(t, spec, nil)
	wantOffsets(t, s, "plain", offset(javaPartition, string(javaValue)))

	const goPartition = `{"big":1e+21,"d":1.5,"filename":"plain","i":-7,"n":42,"none":null,"ok":true}`
	if err := s.Put("plain", []offsets.Offset{offset(goPartition, `{"position":31}`)}); err != nil {
		t.Fatal(err)
	}
	wantOffsets(t, s, "plain", offset(javaPartition, `{"position":31}`))
	recs := readRaw(t, spec)
	if last := recs[len(recs)-1]; !bytes.Equal(last.Key, javaKey) || len(recs) != 2 {
		t.Errorf("Put wrote %s (%d records), want Java's key %s", last.Key, len(recs), javaKey)
	}
	wantOffsets(t, openOffsets(t, spec, nil), "plain", offset(javaPartition, `{"position":31}`))

	// The partition under two keys (Java's and the plugin's, as a
	// worker without this rule would leave it): Get gives the last read,
	// Delete tombstones both.
	sendRaw(t, spec, string(offsets.Key("plain", []byte(goPartition))), `{"position":40}`)
	if err := s.ReadToEnd(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantOffsets(t, s, "plain", offset(goPartition, `{"position":40}`))
	if err := s.Delete("plain"); err != nil {
		t.Fatal(err)
	}
	wantOffsets(t, s, "plain")
	wantOffsets(t, openOffsets(t, spec, nil), "plain")
}

// Records that do not decode are logged and skipped.
func TestKafkaOffsetsSkipsRecords(t *testing.T) {
	t.Parallel()
	spec := testSpec(t, 1)
	sendRaw(t, spec,
		`not json`, `{"a":1}`,
		`["x",{"p":1}]`, `[1]`,
		`["x",{"p":2}]`, `{"pos":2}`,
		`["x",{"p":3}]`, `{"pos":3}`,
		`["x",{"p":3}]`, `NULL`,
	)
	var logs logBuffer
	s := openOffsets(t, spec, &logs)
	wantOffsets(t, s, "x", offset(`{"p":2}`, `{"pos":2}`))
	if n := strings.Count(logs.String(), "skipping an offset record"); n != 2 {
		t.Errorf("%d records logged as skipped, want 2; log:\n%s", n, logs.String())
	}
}

// Interface guards: a source task keeps its offsets in a KafkaOffsets.
var _ task.OffsetStore = (*KafkaOffsets)(nil)

// A connector with an offsets topic of its own reads its partitions from
// it, and the others from the worker's topic (where they were before);
// it writes to both.
func TestConnectorOffsets(t *testing.T) {
	t.Parallel()
	own := openOffsets(t, testSpec(t, 2), nil)
	worker := openOffsets(t, testSpec(t, 5), nil)
	old := offset(`{"file":"a"}`, `{"pos":1}`)
	if err := worker.Put("src", []offsets.Offset{old, offset(`{"file":"b"}`, `{"pos":2}`)}); err != nil {
		t.Fatal(err)
	}
	// The own topic holds b under Java's key bytes (spaces): still b.
	newer := offset(`{ "file" : "b" }`, `{"pos":5}`)
	if err := own.Put("src", []offsets.Offset{newer}); err != nil {
		t.Fatal(err)
	}
	c := ConnectorOffsets{Own: own, Worker: worker}
	sorted := func(offs []offsets.Offset) []offsets.Offset {
		slices.SortFunc(offs, func(a, b offsets.Offset) int { return bytes.Compare(a.Partition, b.Partition) })
		return offs
	}
	if got, want := sorted(c.Get("src")), sorted([]offsets.Offset{old, newer}); !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %s, want %s", got, want)
	}
	c2 := offset(`{"file":"c"}`, `{"pos":7}`)
	if err := c.Put("src", []offsets.Offset{c2}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*KafkaOffsets{"own": own, "worker": worker} {
		if !slices.ContainsFunc(s.Get("src"), func(o offsets.Offset) bool { return reflect.DeepEqual(o, c2) }) {
			t.Errorf("the %s topic lacks what Put wrote: %s", name, s.Get("src"))
		}
	}
	if err := c.ReadToEnd(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}
