package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

func openTestSource(t *testing.T, path string, batch string, offsets sdk.Offsets) *source {
	t.Helper()
	task, err := openSource(context.Background(), sdk.Config{"file": path, "topic": "t", "batch.size": batch}, offsets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Close() })
	return task.(*source)
}

func values(records []sdk.SourceRecord) []string {
	var out []string
	for _, r := range records {
		out = append(out, r.Value.(string))
	}
	return out
}

func TestSourceSplitsLinesLikeKafkaConnect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("a\nb\r\nc\rd\n\npartial"), 0o644)
	s := openTestSource(t, path, "100", nil)
	recs, err := s.readLines()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := values(recs), []string{"a", "b", "c", "d", ""}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
	// Offsets point just past each line's terminator.
	var positions []int64
	for _, r := range recs {
		positions = append(positions, r.Offset["position"].(int64))
	}
	if want := []int64{2, 5, 7, 9, 10}; !reflect.DeepEqual(positions, want) {
		t.Errorf("positions = %v, want %v", positions, want)
	}
	if recs[0].Partition["filename"] != path || recs[0].Topic != "t" || recs[0].ValueSchema != sdk.StringSchema {
		t.Errorf("record = %+v", recs[0])
	}

	// The partial line is emitted once it is complete.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(" line\n")
	f.Close()
	recs, _ = s.readLines()
	if got := values(recs); !reflect.DeepEqual(got, []string{"partial line"}) {
		t.Errorf("after append = %q", got)
	}
}

func TestSourceResumesAndBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("one\ntwo\nthree\nfour\n"), 0o644)
	offsets := sdk.Offsets{`{"filename":"` + path + `"}`: {"position": float64(4)}}
	s := openTestSource(t, path, "2", offsets)
	first, _ := s.readLines()
	second, _ := s.readLines()
	if !reflect.DeepEqual(values(first), []string{"two", "three"}) || !reflect.DeepEqual(values(second), []string{"four"}) {
		t.Errorf("batches = %q, %q", values(first), values(second))
	}
}

// Lines share buffers of linesBuffer bytes: lines that do not fit the
// rest of one, or are longer than one, must come out whole, and stay
// intact while later lines are read.
func TestSourceLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	var want []string
	var content []byte
	for i, n := range []int{40 << 10, 40 << 10, 100 << 10, 3, 0, 70 << 10} {
		line := strings.Repeat(string(rune('a'+i)), n)
		want = append(want, line)
		content = append(append(content, line...), '\n')
	}
	os.WriteFile(path, content, 0o644)
	s := openTestSource(t, path, "2", nil)
	var got []sdk.SourceRecord
	for len(got) < len(want) {
		recs, err := s.readLines()
		if err != nil || len(recs) == 0 {
			t.Fatalf("read %d lines, then %v", len(got), err)
		}
		got = append(got, recs...)
	}
	if !reflect.DeepEqual(values(got), want) {
		t.Error("lines differ from the file's")
	}
}

func TestSinkDropsTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	os.WriteFile(path, []byte("complete\ntorn"), 0o644)
	task, err := openSink(context.Background(), sdk.Config{"file": path})
	if err != nil {
		t.Fatal(err)
	}
	task.Put(context.Background(), []sdk.SinkRecord{{Value: "next"}, {Value: int64(7)}})
	if err := task.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	task.Close()
	b, _ := os.ReadFile(path)
	if string(b) != "complete\nnext\n7\n" {
		t.Errorf("sink file = %q", b)
	}
}
