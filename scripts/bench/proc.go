package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// usage is what a process tree consumed: CPU seconds (user+system, its
// own and its reaped children's) and the peak of its summed resident set.
type usage struct {
	CPU     float64 // seconds
	PeakRSS int64   // bytes
}

const clockTicks = 100 // USER_HZ on Linux

// sampler polls /proc for a process and its descendants until stopped.
type sampler struct {
	root int
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	cpu  map[int]float64 // last seen CPU seconds per pid
	peak int64
}

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

func (s *sampler) once() {
	tree := descendants(s.root)
	var rss int64
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pid := range tree {
		cpu, r, ok := readProc(pid)
		if !ok {
			continue
		}
		s.cpu[pid] = cpu
		rss += r
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
	for _, c := range s.cpu {
		u.CPU += c
	}
	return u
}

// readProc returns a process's own CPU seconds and RSS. Reaped children are
// left out: the tree is sampled while the processes run, and counting
// cutime too would count them twice.
func readProc(pid int) (float64, int64, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	// Fields after the command: state(0) ppid(1) ... utime(11) stime(12) ... rss(21)
	var ticks float64
	for _, i := range []int{11, 12} {
		n, _ := strconv.ParseFloat(f[i], 64)
		ticks += n
	}
	pages, _ := strconv.ParseInt(f[21], 10, 64)
	return ticks / clockTicks, pages * int64(os.Getpagesize()), true
}

// descendants returns pid and every process below it.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
