package main

import (
	"sync"
	"syscall"
	"time"

	"github.com/ferry-connect/ferry/internal/proctree"
)

// usage is what a process tree consumed: CPU seconds (user plus system)
// and the peak of its summed resident set.
type usage struct {
	CPU     float64 // seconds
	RootCPU float64 // the root process's share of CPU (Ferry: the worker's)
	PeakRSS int64   // bytes
}

// sampler polls /proc for a process and its descendants until stopped.
type sampler struct {
	root int
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	tree  []int // the processes sampled, looked up again every rescanEvery samples
	count int
	cpu   map[int]float64 // last seen CPU seconds per pid
	peak  int64
}

// rescanEvery samples the process table is read again for new processes
// (plugins start within the first second; a scan of all of /proc every
// 50 ms would take a fifth of a core from what is measured).
const rescanEvery = 10

func sample(pid int) *sampler {
	s := &sampler{root: pid, stop: make(chan struct{}), done: make(chan struct{}), cpu: map[int]float64{}}
	go s.loop()
	return s
}

func (s *sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		s.once()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// once samples the tree. Each process's own CPU is kept (not its reaped
// children's: the tree is sampled while they run, so they would count twice).
func (s *sampler) once() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count%rescanEvery == 0 {
		s.tree = proctree.Tree(s.root)
	}
	s.count++
	var rss int64
	for _, pid := range s.tree {
		st, ok := proctree.Read(pid)
		if !ok {
			continue
		}
		s.cpu[pid] = st.CPU
		rss += st.RSS
	}
	if rss > s.peak {
		s.peak = rss
	}
}

// finish stops sampling and returns the totals.
func (s *sampler) finish() usage {
	s.once()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	u := usage{PeakRSS: s.peak}
	for pid, c := range s.cpu {
		u.CPU += c
		if pid == s.root {
			u.RootCPU = c
		}
	}
	return u
}

// selfCPU is this process's CPU seconds so far (user plus system, all
// threads: Go's and librdkafka's).
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
