// Package proctree reads Linux's process table (/proc) for the test and
// benchmark harnesses: which processes a worker started, and what they use.
package proctree

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat is the part of /proc/<pid>/stat the harnesses use.
type Stat struct {
	// State is the process state: R running, S sleeping, T stopped, Z
	// zombie, ...
	State byte
	PPID  int
	// CPU is user plus system time, in seconds.
	CPU float64
	// RSS is the resident set, in bytes.
	RSS int64
}

const clockTicks = 100 // USER_HZ on Linux

// Read returns pid's stat; ok is false once the process is gone.
func Read(pid int) (Stat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, false
	}
	// The command (field 2) is in parentheses and may hold spaces; fields
	// after it: state(0) ppid(1) ... utime(11) stime(12) ... rss(21).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 22 {
		return Stat{}, false
	}
	var s Stat
	s.State = f[0][0]
	s.PPID, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	s.CPU = (utime + stime) / clockTicks
	pages, _ := strconv.ParseInt(f[21], 10, 64)
	s.RSS = pages * int64(os.Getpagesize())
	return s, true
}

// Alive reports whether pid is a process that has not exited: it exists
// and is no zombie.
func Alive(pid int) bool {
	st, ok := Read(pid)
	return ok && st.State != 'Z'
}

// Children returns the processes whose parent is pid.
func Children(pid int) []int { return parents()[pid] }

// Tree returns pid and every process below it.
func Tree(pid int) []int {
	children := parents()
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// parents reads the process table once and maps each pid to its
// children: one pass over /proc however deep the tree (reading a
// process's stat costs the kernel a walk over its threads, and a
// benchmark samples every 50 ms).
func parents() map[int][]int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := Read(p); ok {
			children[st.PPID] = append(children[st.PPID], p)
		}
	}
	return children
}

// Env returns pid's environment as KEY=VALUE strings.
func Env(pid int) []string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	var out []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			out = append(out, string(kv))
		}
	}
	return out
}
