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
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// defaultPercent is Go's GOGC, used once the live heap reaches the floor.
const defaultPercent = 100

// The runtime metrics Percent needs: the heap marked live by the last
// collection, and the stacks and globals it scans. Reading them does not
// stop the world, unlike ReadMemStats.
var gcMetrics = [...]string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// Run adjusts the GC percent after every collection until ctx ends, then
// restores Go's default. It does nothing when the GOGC environment variable
// is set: the user has chosen.
//
// The percent is set anew after each collection, from the heap it left
// live, so that the next collection's goal is the floor. Sampled on a
// timer instead, a live heap that grew between samples carried the old,
// higher percent into the next goal: the worker's heap reached three
// times its floor.
func Run(ctx context.Context, floor uint64) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	collected := make(chan struct{}, 1)
	notifyAfterGC(ctx, collected)
	samples := make([]metrics.Sample, len(gcMetrics))
	for i, name := range gcMetrics {
		samples[i].Name = name
	}
	current := defaultPercent
	defer func() { debug.SetGCPercent(defaultPercent) }()
	for {
		metrics.Read(samples)
		var v [len(gcMetrics)]uint64 // zero where this Go has no such metric
		for i, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				v[i] = s.Value.Uint64()
			}
		}
		if p := Percent(v[0], v[1]+v[2], floor); p != current {
			debug.SetGCPercent(p)
			current = p
		}
		select {
		case <-ctx.Done():
			return
		case <-collected:
		}
	}
}

// sentinel is an object made only to be collected (it holds a pointer so
// that it is not one of the tiny objects the allocator packs together,
// which are freed late).
type sentinel struct{ _ *byte }

// notifyAfterGC signals collected once after each garbage collection until
// ctx ends: the cleanup of an unreachable sentinel runs after the
// collection that found it, and arms the next.
func notifyAfterGC(ctx context.Context, collected chan<- struct{}) {
	runtime.AddCleanup(new(sentinel), func(struct{}) {
		if ctx.Err() != nil {
			return
		}
		select {
		case collected <- struct{}{}:
		default: // one pending signal is enough
		}
		notifyAfterGC(ctx, collected)
	}, struct{}{})
}

// Percent is the GC percent that puts the next collection's goal at floor
// for a heap of live bytes whose goroutine stacks and globals take roots
// bytes (the collector counts them into its goal too: the goal is live +
// (live+roots) × percent/100). It is never below Go's default, and moves
// in steps of a quarter of it so that small changes of the live heap do
// not reset the collector's pacing each time.
func Percent(live, roots, floor uint64) int {
	base := live + roots
	if live == 0 || live+base >= floor {
		return defaultPercent
	}
	p := int((floor-live)*100/base) / (defaultPercent / 4) * (defaultPercent / 4)
	return max(p, defaultPercent)
}
