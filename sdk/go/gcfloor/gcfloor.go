// Package gcfloor keeps the Go garbage collector from running far more
// often than a process's memory needs. Ferry's processes stream records
// through a live heap of a few MiB, and with GOGC=100 the collector then
// runs every few MiB allocated: tens of collections a second, a large share
// of the CPU. While the live heap is below a floor, gcfloor raises the GC
// percent so the next collection starts near the floor instead; above it,
// Go's default applies.
package gcfloor

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// defaultPercent is Go's GOGC, used once the live heap reaches the floor.
const defaultPercent = 100

// liveHeap is the runtime metric with the heap marked live by the last
// collection (reading it does not stop the world, unlike ReadMemStats).
const liveHeap = "/gc/heap/live:bytes"

// Run adjusts the GC percent every interval until ctx ends, then restores
// Go's default. It does nothing when the GOGC environment variable is set:
// the user has chosen.
func Run(ctx context.Context, floor uint64, interval time.Duration) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: liveHeap}}
	current := defaultPercent
	defer func() { debug.SetGCPercent(defaultPercent) }()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := Percent(sample[0].Value.Uint64(), floor); p != current {
				debug.SetGCPercent(p)
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Percent is the GC percent that puts the next collection of a heap with
// live bytes at floor, never below Go's default. It moves in steps of a
// quarter of the default so that small changes of the live heap do not
// reset the collector's pacing each time.
func Percent(live, floor uint64) int {
	if live == 0 || live >= floor/2 {
		return defaultPercent
	}
	p := int((floor-live)*100/live) / (defaultPercent / 4) * (defaultPercent / 4)
	return max(p, defaultPercent)
}
