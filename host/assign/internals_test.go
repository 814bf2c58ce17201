package assign

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAssignConnectorsAndTasks mirrors the Java tests of assignConnectors
// and assignTasks: new work goes to the least loaded, one each per pass.
func TestAssignConnectorsAndTasks(t *testing.T) {
	t.Parallel()
	balanced := func() []*load {
		return []*load{workerLoad("worker0", 0, 2, 0, 2), workerLoad("worker1", 2, 2, 2, 2), workerLoad("worker2", 4, 2, 4, 2)}
	}
	plus := func(l *load, conns []string, tasks []Task) Work {
		return Work{Connectors: slices.Concat(l.work.Connectors, conns), Tasks: slices.Concat(l.work.Tasks, tasks)}
	}
	tests := []struct {
		name  string
		loads []*load
		conns []string
		tasks []Task
		// want is each worker's exact work afterwards, or nil to check
		// counts only.
		want      func(before []*load) map[string]Work
		wantConns int
		wantTasks int
	}{
		{
			name:  "testAssignConnectorsWhenBalanced",
			loads: balanced(),
			conns: newConnectors(6, 11),
			want: func(b []*load) map[string]Work {
				return map[string]Work{
					"worker0": plus(b[0], []string{"connector6", "connector9"}, nil),
					"worker1": plus(b[1], []string{"connector7", "connector10"}, nil),
					"worker2": plus(b[2], []string{"connector8"}, nil),
				}
			},
		},
		{
			name:  "testAssignTasksWhenBalanced",
			loads: balanced(),
			conns: newConnectors(6, 11),
			tasks: newTasks(6, 11),
			want: func(b []*load) map[string]Work {
				return map[string]Work{
					"worker0": plus(b[0], []string{"connector6", "connector9"}, []Task{{"task", 6}, {"task", 9}}),
					"worker1": plus(b[1], []string{"connector7", "connector10"}, []Task{{"task", 7}, {"task", 10}}),
					"worker2": plus(b[2], []string{"connector8"}, []Task{{"task", 8}}),
				}
			},
		},
		{
			name: "testAssignConnectorsWhenImbalanced",
			loads: []*load{
				workerLoad("worker0", 0, 2, 0, 2),
				workerLoad("worker1", 2, 3, 2, 3),
				workerLoad("worker2", 5, 4, 5, 4),
				{member: "worker3"},
			},
			conns:     newConnectors(9, 24),
			tasks:     newTasks(9, 24),
			wantConns: 6,
			wantTasks: 6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want map[string]Work
			if tt.want != nil {
				want = tt.want(tt.loads)
			}
			assignConnectors(tt.loads, tt.conns)
			assignTasks(tt.loads, tt.tasks)
			for _, l := range tt.loads {
				if want != nil {
					if w := want[l.member]; !slices.Equal(l.work.Connectors, w.Connectors) || !slices.Equal(l.work.Tasks, w.Tasks) {
						t.Errorf("%s: %v, want %v", l.member, l.work, w)
					}
					continue
				}
				if len(l.work.Connectors) != tt.wantConns || len(l.work.Tasks) != tt.wantTasks {
					t.Errorf("%s: %d connectors and %d tasks, want %d and %d",
						l.member, len(l.work.Connectors), len(l.work.Tasks), tt.wantConns, tt.wantTasks)
				}
			}
		})
	}
}

// lostStep is one call of handleLost in the Java tests of
// handleLostAssignments, with what changes before it and what must hold
// after it.
type lostStep struct {
	sleep int64    // ms
	leave string   // this worker departs; its work is the lost work from now on
	join  []string // workers that join with nothing
	set   map[string]*load
	// noLost calls handleLost with no lost work.
	noLost bool
	// members, when set, is what the assignor remembers as the previous
	// round's members after the step (by default: the workers present).
	members []string

	candidates []string
	deadlineIn int64 // the deadline is now + this; 0: none scheduled
	delay      int64
	reassign   bool     // the lost work is returned, to assign like new work
	heldBy     []string // these workers now run all of the lost work
}

func TestLostAssignmentHandling(t *testing.T) {
	t.Parallel()
	const d = defaultMaxDelay
	start := []lostStep{{noLost: true}}
	tests := []struct {
		name     string
		maxDelay int64
		steps    []lostStep
	}{
		{
			name:     "testLostAssignmentHandlingWhenWorkerBounces",
			maxDelay: d,
			steps: append(start,
				// Lost work, no candidate yet: the delay starts.
				lostStep{leave: "worker1", deadlineIn: d, delay: d},
				// The worker (probably) returns with nothing.
				lostStep{sleep: d / 2, join: []string{"worker1"}, candidates: []string{"worker1"}, deadlineIn: d / 2, delay: d / 2},
				// The delay expires: it gets the lost work.
				lostStep{sleep: d / 2, heldBy: []string{"worker1"}},
			),
		},
		{
			name:     "testLostAssignmentHandlingWhenWorkerLeavesPermanently",
			maxDelay: d,
			steps: append(start,
				lostStep{leave: "worker1", deadlineIn: d, delay: d, members: []string{"worker1"}},
				lostStep{sleep: d / 2, deadlineIn: d / 2, delay: d / 2},
				// Nobody took its place: the lost work is assigned as new.
				lostStep{sleep: d / 2, reassign: true},
			),
		},
		{
			name:     "testLostAssignmentHandlingWithMoreThanOneCandidates",
			maxDelay: d,
			steps: append(start,
				// A worker that is not the departed one joins as it departs.
				lostStep{leave: "worker1", join: []string{"worker3"}, candidates: []string{"worker3"}, deadlineIn: d, delay: d},
				lostStep{sleep: d / 2, join: []string{"worker1"}, candidates: []string{"worker3", "worker1"}, deadlineIn: d / 2, delay: d / 2},
				// Both candidates got other work meanwhile; they share the lost work still.
				lostStep{sleep: d / 2,
					set:    map[string]*load{"worker1": workerLoad("worker1", 6, 2, 8, 4), "worker3": workerLoad("worker3", 8, 2, 12, 4)},
					heldBy: []string{"worker1", "worker3"}},
			),
		},
		{
			name:     "testLostAssignmentHandlingWhenWorkerBouncesBackButFinallyLeaves",
			maxDelay: d,
			steps: append(start,
				lostStep{leave: "worker1", deadlineIn: d, delay: d},
				lostStep{sleep: d / 2, join: []string{"worker1"}, candidates: []string{"worker1"}, deadlineIn: d / 2, delay: d / 2},
				// The candidate leaves again before the delay expires.
				lostStep{sleep: d / 2, leave: "worker1", reassign: true},
			),
		},
		{
			name:     "testLostAssignmentHandlingWhenScheduledDelayIsDisabled",
			maxDelay: 0,
			steps: append(start,
				lostStep{leave: "worker1", reassign: true},
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := NewCooperative(time.Duration(tt.maxDelay) * time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			loads := map[string]*load{
				"worker0": workerLoad("worker0", 0, 2, 0, 4),
				"worker1": workerLoad("worker1", 2, 2, 4, 4),
				"worker2": workerLoad("worker2", 4, 2, 8, 4),
			}
			now := int64(1_700_000_000_000)
			var lost Work
			for i, s := range tt.steps {
				now += s.sleep
				if s.leave != "" {
					if lost.empty() {
						lost = loads[s.leave].work
					}
					delete(loads, s.leave)
				}
				for _, id := range s.join {
					loads[id] = &load{member: id}
				}
				maps.Copy(loads, s.set)
				arg := lost
				if s.noLost {
					arg = Work{}
				}
				next := slices.SortedFunc(maps.Values(loads), func(a, b *load) int { return strings.Compare(a.member, b.member) })
				reassign := a.handleLost(arg, next, now)

				if !slices.Equal(a.candidates, s.candidates) {
					t.Errorf("step %d: candidates %v, want %v", i, a.candidates, s.candidates)
				}
				if s.deadlineIn == 0 && a.scheduled {
					t.Errorf("step %d: rebalance scheduled at %d, want none", i, a.deadline)
				}
				if s.deadlineIn != 0 && (!a.scheduled || a.deadline != now+s.deadlineIn) {
					t.Errorf("step %d: scheduled %v at now%+d, want now%+d", i, a.scheduled, a.deadline-now, s.deadlineIn)
				}
				if a.delay != s.delay {
					t.Errorf("step %d: delay %d, want %d", i, a.delay, s.delay)
				}
				if s.reassign != (!reassign.empty()) || (s.reassign && !sameUnits(reassign, lost)) {
					t.Errorf("step %d: to reassign %v, want %v (lost %v)", i, reassign, s.reassign, lost)
				}
				var held []Work
				for _, id := range s.heldBy {
					held = append(held, loads[id].work)
				}
				if got := unitsOf(held...); len(s.heldBy) > 0 && !sameUnits(within(lost, got), lost) {
					t.Errorf("step %d: %v run %v, want all of %v", i, s.heldBy, held, lost)
				}

				members := s.members
				if members == nil {
					members = slices.Collect(maps.Keys(loads))
				}
				a.previousMembers = map[string]bool{}
				for _, id := range members {
					a.previousMembers[id] = true
				}
			}
		})
	}
}

// TestBackoff pins the delays between successive revoking rounds to those
// of Kafka's ExponentialBackoff(1, 40, maxDelay, 0): want is Java's own
// output for n = 0..7. Where Java's floating point lands one millisecond
// under the cap, Ferry sends the cap (ferry lists those n).
func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		maxDelay int64
		want     []int64
		ferry    map[int]int64
	}{
		{300000, []int64{1, 40, 1600, 64000, 300000, 300000, 300000, 300000}, nil},
		{0, []int64{0, 0, 0, 0, 0, 0, 0, 0}, nil},
		{1, []int64{1, 1, 1, 1, 1, 1, 1, 1}, nil},
		{2, []int64{1, 2, 2, 2, 2, 2, 2, 2}, nil},
		{3, []int64{1, 3, 3, 3, 3, 3, 3, 3}, nil},
		{7, []int64{1, 6, 6, 6, 6, 6, 6, 6}, map[int]int64{1: 7, 2: 7, 3: 7, 4: 7, 5: 7, 6: 7, 7: 7}},
		{1000, []int64{1, 40, 999, 999, 999, 999, 999, 999}, map[int]int64{2: 1000, 3: 1000, 4: 1000, 5: 1000, 6: 1000, 7: 1000}},
		{1600, []int64{1, 40, 1600, 1600, 1600, 1600, 1600, 1600}, nil},
		{5000, []int64{1, 40, 1600, 5000, 5000, 5000, 5000, 5000}, nil},
		{12345, []int64{1, 40, 1600, 12345, 12345, 12345, 12345, 12345}, nil},
		{60000, []int64{1, 40, 1600, 60000, 60000, 60000, 60000, 60000}, nil},
		{64000, []int64{1, 40, 1600, 64000, 64000, 64000, 64000, 64000}, nil},
		{100000, []int64{1, 40, 1600, 64000, 99999, 99999, 99999, 99999}, map[int]int64{4: 100000, 5: 100000, 6: 100000, 7: 100000}},
		{2147483647, []int64{1, 40, 1600, 64000, 2560000, 102400000, 2147483647, 2147483647}, nil},
	}
	for _, tt := range tests {
		a, err := NewCooperative(time.Duration(tt.maxDelay) * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for n, want := range tt.want {
			if f, ok := tt.ferry[n]; ok {
				want = f
			}
			if got := a.backoff(n); got != want {
				t.Errorf("max delay %d: backoff(%d) = %d, want %d", tt.maxDelay, n, got, want)
			}
		}
	}
}

func TestNewCooperative(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{-time.Millisecond, (1 << 31) * time.Millisecond} {
		if _, err := NewCooperative(d); err == nil {
			t.Errorf("NewCooperative(%v) succeeded, want an error", d)
		}
	}
	for _, d := range []time.Duration{0, time.Millisecond, 5 * time.Minute, (1<<31 - 1) * time.Millisecond} {
		if _, err := NewCooperative(d); err != nil {
			t.Errorf("NewCooperative(%v): %v", d, err)
		}
	}
}
