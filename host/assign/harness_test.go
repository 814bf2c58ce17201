package assign

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
)

// defaultMaxDelay is scheduled.rebalance.max.delay.ms's default (ms).
const defaultMaxDelay = 300_000

// harness replays a cluster's rebalances through one leader's Cooperative,
// as IncrementalCooperativeAssignorTest does: members report what they
// run, the leader assigns, members apply it (unless the round "fails"),
// and a fake clock moves only when told to.
type harness struct {
	t          *testing.T
	maxDelay   int64
	assignor   *Cooperative
	assignors  map[string]*Cooperative // by leader name, for leaders that come back
	connectors map[string]int
	members    map[string]Work
	generation int
	now        time.Time
	result     map[string]Assignment
}

// newHarness starts as the Java test's setup does: connector1 and
// connector2 with 4 tasks each, and worker1 running nothing.
func newHarness(t *testing.T, maxDelay int64) *harness {
	h := &harness{
		t:          t,
		maxDelay:   maxDelay,
		connectors: map[string]int{"connector1": 4, "connector2": 4},
		members:    map[string]Work{"worker1": {}},
		generation: 1000,
		now:        time.UnixMilli(1_700_000_000_000),
		assignors:  map[string]*Cooperative{},
	}
	h.newLeader()
	h.assignors["A"] = h.assignor
	return h
}

// lead makes the worker named name the leader: its own assignor, as it
// was when it last led (a fresh one if it never did, with no notion of
// the cluster's generation).
func (h *harness) lead(name string) {
	h.t.Helper()
	a, ok := h.assignors[name]
	if !ok {
		var err error
		a, err = NewCooperative(time.Duration(h.maxDelay) * time.Millisecond)
		if err != nil {
			h.t.Fatal(err)
		}
		h.assignors[name] = a
	}
	h.assignor = a
}

// newLeader replaces the assignor with a fresh one, as a new leader
// brings (initAssignor in the Java test, which also lines its generation
// up with the cluster's).
func (h *harness) newLeader() {
	h.t.Helper()
	a, err := NewCooperative(time.Duration(h.maxDelay) * time.Millisecond)
	if err != nil {
		h.t.Fatal(err)
	}
	a.previousGeneration = h.generation
	h.assignor = a
}

type roundKind int

const (
	standard   roundKind = iota
	failed               // computed, never delivered: members keep what they ran
	mismatched           // the leader's last completed generation is not the previous one
)

// rebalance runs one round and checks what must hold of every round.
func (h *harness) rebalance(kind roundKind) {
	h.t.Helper()
	h.generation++
	last := h.generation - 1
	if kind == mismatched {
		last = h.generation - 2
	}
	members := cloneMembers(h.members)
	connectors := maps.Clone(h.connectors)
	h.result = h.assignor.Assign(Round{
		Connectors:     connectors,
		Members:        members,
		Generation:     h.generation,
		LastGeneration: last,
		Now:            h.now,
	})
	if !reflect.DeepEqual(members, h.members) || !maps.Equal(connectors, h.connectors) {
		h.t.Fatalf("Assign changed its input")
	}
	checkRound(h.t, h.members, h.result)
	if kind != failed {
		h.members = applyAll(h.t, h.members, h.result)
	}
}

// delay returns the delay of the last round, in ms.
func (h *harness) delay() int64 {
	for _, a := range h.result {
		return a.Delay.Milliseconds()
	}
	return 0
}

func (h *harness) sleep(ms int64) { h.now = h.now.Add(time.Duration(ms) * time.Millisecond) }

// checkRound checks an assignment against what members ran before it
// (assertNoRedundantAssignments and assertWorkers' premise in the Java
// test): one Assignment per member and no other; one delay for all, within
// bounds; nothing newly assigned that some member runs, nor assigned
// twice; every revocation of something the member runs, or of lost work
// that nobody runs nor is assigned (handed to a member and taken back in
// the same round).
func checkRound(t *testing.T, before map[string]Work, result map[string]Assignment) {
	t.Helper()
	if got, want := slices.Sorted(maps.Keys(result)), slices.Sorted(maps.Keys(before)); !slices.Equal(got, want) {
		t.Fatalf("assignments for %v, want one for each member %v", got, want)
	}
	running := unitsOf(slices.Collect(maps.Values(before))...)
	assigned := newUnits()
	var delay time.Duration = -1
	for id, a := range result {
		if delay >= 0 && a.Delay != delay {
			t.Fatalf("member %s delay %v, others %v", id, a.Delay, delay)
		}
		delay = a.Delay
		for _, c := range a.Assigned.Connectors {
			if running.conns[c] || assigned.conns[c] {
				t.Fatalf("connector %s assigned to %s is already running or assigned", c, id)
			}
			assigned.conns[c] = true
		}
		for _, tk := range a.Assigned.Tasks {
			if running.tasks[tk] || assigned.tasks[tk] {
				t.Fatalf("task %v assigned to %s is already running or assigned", tk, id)
			}
			assigned.tasks[tk] = true
		}
	}
	for id, a := range result {
		had := unitsOf(before[id])
		for _, c := range a.Revoked.Connectors {
			if !had.conns[c] && (running.conns[c] || assigned.conns[c]) {
				t.Fatalf("connector %s revoked from %s, which does not run it", c, id)
			}
		}
		for _, tk := range a.Revoked.Tasks {
			if !had.tasks[tk] && (running.tasks[tk] || assigned.tasks[tk]) {
				t.Fatalf("task %v revoked from %s, which does not run it", tk, id)
			}
		}
	}
	if delay < 0 || delay%time.Millisecond != 0 {
		t.Fatalf("delay %v", delay)
	}
}

// applyAll returns what members run once they applied result: each stops
// what is revoked and starts what is assigned, which must come to what
// the leader says it owns (applyAssignments in the Java test).
func applyAll(t *testing.T, before map[string]Work, result map[string]Assignment) map[string]Work {
	t.Helper()
	after := make(map[string]Work, len(result))
	for id, a := range result {
		w := without(before[id], unitsOf(a.Revoked))
		w = Work{
			Connectors: append(w.Connectors, a.Assigned.Connectors...),
			Tasks:      append(w.Tasks, a.Assigned.Tasks...),
		}
		if !sameUnits(w, a.Owned) {
			t.Fatalf("member %s runs %v after applying its assignment, the leader says it owns %v", id, w, a.Owned)
		}
		after[id] = w
	}
	return after
}

func sameUnits(a, b Work) bool {
	ua, ub := unitsOf(a), unitsOf(b)
	return maps.Equal(ua.conns, ub.conns) && maps.Equal(ua.tasks, ub.tasks)
}

func cloneMembers(m map[string]Work) map[string]Work {
	out := make(map[string]Work, len(m))
	for id, w := range m {
		out[id] = w.clone()
	}
	return out
}

// allocations returns how many connectors (or tasks) each member runs,
// sorted.
func allocations(members map[string]Work, tasks bool) []int {
	var n []int
	for _, w := range members {
		if tasks {
			n = append(n, len(w.Tasks))
		} else {
			n = append(n, len(w.Connectors))
		}
	}
	slices.Sort(n)
	return n
}

// checkBalancedAndComplete is assertBalancedAndCompleteAllocation: counts
// differ by at most one per kind, and every configured connector and task
// runs somewhere, nothing else.
func checkBalancedAndComplete(t *testing.T, connectors map[string]int, members map[string]Work) {
	t.Helper()
	for _, tasks := range []bool{false, true} {
		n := allocations(members, tasks)
		if len(n) > 0 && n[len(n)-1]-n[0] > 1 {
			t.Errorf("imbalanced (tasks %v): %v", tasks, n)
		}
	}
	all := configuredWork(connectors)
	if running := unitsOf(slices.Collect(maps.Values(members))...); !sameUnits(Work{
		Connectors: slices.Collect(maps.Keys(running.conns)),
		Tasks:      slices.Collect(maps.Keys(running.tasks)),
	}, all) {
		t.Errorf("running %v, configured %v", members, all)
	}
}

// newConnectors returns connector<start> .. connector<end-1>.
func newConnectors(start, end int) []string {
	var out []string
	for i := start; i < end; i++ {
		out = append(out, fmt.Sprintf("connector%d", i))
	}
	return out
}

// newTasks returns tasks start .. end-1 of the connector named "task", as
// the Java test's newTasks(start, end) does.
func newTasks(start, end int) []Task { return tasksOf("task", start, end) }

func tasksOf(connector string, start, end int) []Task {
	var out []Task
	for i := start; i < end; i++ {
		out = append(out, Task{Connector: connector, ID: i})
	}
	return out
}

// workerLoad is the Java test's workerLoad(worker, connectorStart,
// connectorNum, taskStart, taskNum).
func workerLoad(worker string, connStart, connNum, taskStart, taskNum int) *load {
	return &load{member: worker, work: Work{
		Connectors: newConnectors(connStart, connStart+connNum),
		Tasks:      newTasks(taskStart, taskStart+taskNum),
	}}
}
