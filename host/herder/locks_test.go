package herder

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Regression (issue 12): every change waited on one lock, so 50 parallel
// creates took up to 62 s each and a hung plugin's delete blocked all
// others. Changes to different names must not wait on each other.
func TestNameLocks(t *testing.T) {
	t.Parallel()
	var l nameLocks
	ctx := context.Background()
	if err := l.lock(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// Another name is free while "a" is held.
	if err := l.lock(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	l.unlock("b")

	// The same name waits, until its holder lets go or ctx ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := l.lock(short, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock of a held name = %v, want a deadline error", err)
	}
	got := make(chan error)
	go func() { got <- l.lock(ctx, "a") }()
	select {
	case err := <-got:
		t.Fatalf("lock of a held name returned %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	l.unlock("a")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	l.unlock("a")
	if len(l.locks) != 0 {
		t.Errorf("locks left behind: %v", l.locks)
	}
}
