package task

import "testing"

// The queue keeps order across compactions, and in a steady state (as
// many in as out) it stops allocating.
func TestFIFO(t *testing.T) {
	var f fifo[int]
	next, want := 0, 0
	for round := range 1000 {
		for range 3 {
			f.push(next)
			next++
		}
		n := 3
		if round < 10 {
			n = 2 // fill up to 10 queued first
		}
		for _, v := range f.front(n) {
			if v != want {
				t.Fatalf("round %d: got %d, want %d", round, v, want)
			}
			want++
		}
		f.pop(n)
	}
	if f.len() != 10 || cap(f.items) > 32 {
		t.Errorf("len %d cap %d, want 10 queued in at most 32", f.len(), cap(f.items))
	}
	if allocs := testing.AllocsPerRun(1000, func() { f.push(1); f.pop(1) }); allocs != 0 {
		t.Errorf("steady state allocates %v per push", allocs)
	}
	f.pop(f.len())
	if f.len() != 0 || f.head != 0 || len(f.items) != 0 {
		t.Errorf("emptied queue: len %d head %d items %d", f.len(), f.head, len(f.items))
	}
}
