package gcfloor

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name              string
		live, roots, want uint64
	}{
		{"unknown live heap", 0, 0, 100},
		{"tiny heap reaches the floor", 1 * mib, 0, 1500},
		{"stacks and globals count into the goal", 1 * mib, 1 * mib, 750},
		{"rounded down to a step of 25", 3 * mib, 0, 425},
		{"half the floor gets Go's default", 8 * mib, 0, 100},
		{"less with stacks and globals", 6 * mib, 4 * mib, 100},
		{"above the floor", 64 * mib, 0, 100},
		{"never below the default", 7*mib + mib/2, 0, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(tc.live, tc.roots, 16*mib); got != int(tc.want) {
				t.Errorf("Percent(%d MiB, %d MiB, 16 MiB) = %d, want %d", tc.live/mib, tc.roots/mib, got, tc.want)
			}
		})
	}
}

// gogc is the GC percent in effect.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestRunRaisesAndRestores(t *testing.T) {
	if gogc() != defaultPercent {
		t.Skipf("GC percent is %d before the test", gogc())
	}
	runtime.GC() // so the live heap is known
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, 1<<30); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for gogc() <= defaultPercent {
		if time.Now().After(deadline) {
			t.Fatalf("GC percent still %d with a 1 GiB floor", gogc())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if got := gogc(); got != defaultPercent {
		t.Errorf("GC percent after Run = %d, want %d", got, defaultPercent)
	}
}

// The percent follows the live heap collection by collection: Go's default
// once the live heap passes half the floor, raised again when it shrinks.
func TestRunFollowsCollections(t *testing.T) {
	if gogc() != defaultPercent {
		t.Skipf("GC percent is %d before the test", gogc())
	}
	const floor = 64 << 20
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() { Run(ctx, floor); close(done) }()
	waitFor := func(what string, ok func(uint64) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(gogc()); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("GC percent %d, want %s", gogc(), what)
			}
			runtime.GC()
		}
	}
	waitFor("raised for a small heap", func(p uint64) bool { return p > defaultPercent })
	live := make([]byte, floor)
	waitFor("the default for a heap above half the floor", func(p uint64) bool { return p == defaultPercent })
	runtime.KeepAlive(live)
	live = nil
	waitFor("raised again once the heap shrank", func(p uint64) bool { return p > defaultPercent })
}

func TestRunLeavesAChosenGOGC(t *testing.T) {
	t.Setenv("GOGC", "100")
	done := make(chan struct{})
	go func() { Run(context.Background(), 1<<30); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept running although GOGC is set")
	}
	if got := gogc(); got != defaultPercent {
		t.Errorf("GC percent = %d, want %d", got, defaultPercent)
	}
}
