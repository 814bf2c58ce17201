package task

// fifo is a queue that reuses its array. Slicing records off the front of
// a slice and appending at its back, as the source loop did, allocates a
// new array every time the back reaches the end of the old one: for a
// queue that is never empty that was an allocation (and a copy) per few
// thousand records.
type fifo[T any] struct {
	items []T // items[head:] are queued
	head  int
}

// len returns the number of queued items.
func (f *fifo[T]) len() int { return len(f.items) - f.head }

// push queues v at the back. A full array whose front half is free is
// compacted instead of grown.
func (f *fifo[T]) push(v T) {
	if len(f.items) == cap(f.items) && f.head >= len(f.items)/2 && f.head > 0 {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items = f.items[:n]
		f.head = 0
	}
	f.items = append(f.items, v)
}

// front returns the n oldest items, which stay queued.
func (f *fifo[T]) front(n int) []T { return f.items[f.head : f.head+n] }

// pop drops the n oldest items.
func (f *fifo[T]) pop(n int) {
	clear(f.items[f.head : f.head+n]) // let what they point to go
	f.head += n
	if f.head == len(f.items) {
		f.items = f.items[:0]
		f.head = 0
	}
}
