package herder

import (
	"context"
	"fmt"
	"sync"
)

// nameLocks holds one lock per connector name, for as long as someone
// holds or waits for it. The zero value is ready to use.
type nameLocks struct {
	mu    sync.Mutex
	locks map[string]*nameLock
}

type nameLock struct {
	held  chan struct{} // holds a token while the lock is held
	users int           // holders and waiters; guarded by nameLocks.mu
}

// lock takes name's lock, waiting at most until ctx ends.
func (l *nameLocks) lock(ctx context.Context, name string) error {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*nameLock{}
	}
	nl := l.locks[name]
	if nl == nil {
		nl = &nameLock{held: make(chan struct{}, 1)}
		l.locks[name] = nl
	}
	nl.users++
	l.mu.Unlock()
	select {
	case nl.held <- struct{}{}:
		return nil
	case <-ctx.Done():
		l.release(name, nl)
		return fmt.Errorf("connector %s is busy with another change: %w", name, ctx.Err())
	}
}

// unlock releases name's lock, which the caller holds.
func (l *nameLocks) unlock(name string) {
	l.mu.Lock()
	nl := l.locks[name]
	l.mu.Unlock()
	<-nl.held
	l.release(name, nl)
}

func (l *nameLocks) release(name string, nl *nameLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if nl.users--; nl.users == 0 {
		delete(l.locks, name)
	}
}
