package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	sdk "github.com/ferry-connect/ferry/sdk/go"
)

// The harness reads the count file while puts rewrite it in place.
func TestSinkCountFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "count")
	task, err := openSink(context.Background(), sdk.Config{"count.file": path})
	if err != nil {
		t.Fatal(err)
	}
	for _, put := range []struct {
		records int
		want    string
	}{{7, "7"}, {5, "12"}, {988, "1000"}} {
		if err := task.Put(context.Background(), make([]sdk.SinkRecord, put.records)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != put.want {
			t.Fatalf("count file holds %q (%v), want %s", b, err, put.want)
		}
	}
	if err := task.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSinkCountFileUnwritable(t *testing.T) {
	_, err := openSink(context.Background(), sdk.Config{"count.file": filepath.Join(t.TempDir(), "no", "such", "dir")})
	if err == nil {
		t.Fatal("openSink with a count.file in a missing directory succeeded")
	}
}
