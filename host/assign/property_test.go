package assign

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// simWorker is one worker of a simulated cluster: what it runs, its own
// assignor (used while it leads; stale while it does not) and the
// generation of its last completed join.
type simWorker struct {
	work      Work
	assignor  *Cooperative
	completed int
}

// sim is a cluster living through random events, each worker applying
// what the leader sends, as Kafka Connect's workers do.
type sim struct {
	t          *testing.T
	seed       uint64
	rng        *rand.Rand
	maxDelay   int64
	connectors map[string]int
	workers    map[string]*simWorker
	leader     string
	gen        int
	now        time.Time
	joined     int
	created    int
	events     []string
	transcript []map[string]Assignment
}

var maxDelays = []int64{0, 1, 40, 1000, defaultMaxDelay}

func newSim(t *testing.T, seed uint64) *sim {
	rng := rand.New(rand.NewPCG(seed, 2))
	s := &sim{
		t:          t,
		seed:       seed,
		rng:        rng,
		maxDelay:   maxDelays[rng.IntN(len(maxDelays))],
		connectors: map[string]int{},
		workers:    map[string]*simWorker{},
		now:        time.UnixMilli(1_700_000_000_000),
	}
	for range 1 + rng.IntN(4) {
		s.join()
	}
	for range rng.IntN(6) {
		s.addConnector()
	}
	return s
}

func (s *sim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d, max delay %d, after %v: %s", s.seed, s.maxDelay, s.events, fmt.Sprintf(format, args...))
}

func (s *sim) event(format string, args ...any) {
	s.events = append(s.events, fmt.Sprintf(format, args...))
}

// join adds a worker with a new member id (a restarted worker gets a new
// one too) and nothing to run.
func (s *sim) join() string {
	// Ids sort in no particular relation to when workers joined.
	id := fmt.Sprintf("connect-%04x-%d", s.rng.IntN(1<<16), s.joined)
	s.joined++
	a, err := NewCooperative(time.Duration(s.maxDelay) * time.Millisecond)
	if err != nil {
		s.t.Fatal(err)
	}
	s.workers[id] = &simWorker{assignor: a, completed: -1}
	s.event("join %s", id)
	return id
}

func (s *sim) ids() []string { return slices.Sorted(maps.Keys(s.workers)) }

func (s *sim) pick() string {
	ids := s.ids()
	return ids[s.rng.IntN(len(ids))]
}

func (s *sim) crash(id string) {
	delete(s.workers, id)
	s.event("crash %s", id)
}

func (s *sim) addConnector() {
	name := fmt.Sprintf("conn%d", s.created)
	s.created++
	s.connectors[name] = s.rng.IntN(9)
	s.event("create %s with %d tasks", name, s.connectors[name])
}

// round runs one rebalance; members apply it if delivered. It reports
// whether anything was assigned or revoked, and the delay.
func (s *sim) round(deliver bool) (moved bool, delay time.Duration) {
	s.t.Helper()
	if _, ok := s.workers[s.leader]; !ok {
		s.leader = s.pick()
	}
	s.gen++
	members := map[string]Work{}
	for id, w := range s.workers {
		members[id] = w.work.clone()
	}
	leader := s.workers[s.leader]
	res := leader.assignor.Assign(Round{
		Connectors:     maps.Clone(s.connectors),
		Members:        members,
		Generation:     s.gen,
		LastGeneration: leader.completed,
		Now:            s.now,
	})
	s.transcript = append(s.transcript, res)
	checkRound(s.t, members, res)
	s.checkFairRevocations(members, res)
	for _, a := range res {
		moved = moved || !a.Assigned.empty() || !a.Revoked.empty()
		delay = a.Delay
		if a.Delay.Milliseconds() > s.maxDelay {
			s.fatalf("delay %v over the max", a.Delay)
		}
	}
	if !deliver {
		return moved, delay
	}
	after := applyAll(s.t, members, res)
	for id, w := range after {
		s.workers[id].work = w
		s.workers[id].completed = s.gen
	}
	s.checkNoDuplicates()
	return moved, delay
}

// settle rebalances until a round moves nothing and sets no delay: a
// member that had work revoked rejoins at once, one told to wait rejoins
// after the delay.
func (s *sim) settle() {
	s.t.Helper()
	for range 200 {
		moved, delay := s.round(true)
		if !moved && delay == 0 {
			return
		}
		if !moved {
			s.now = s.now.Add(delay)
		}
	}
	s.fatalf("not settled after 200 rounds")
}

// checkNoDuplicates: no connector or task runs on two workers.
func (s *sim) checkNoDuplicates() {
	s.t.Helper()
	seen := newUnits()
	for _, id := range s.ids() {
		w := s.workers[id].work
		for _, c := range w.Connectors {
			if seen.conns[c] {
				s.fatalf("connector %s runs twice", c)
			}
			seen.conns[c] = true
		}
		for _, t := range w.Tasks {
			if seen.tasks[t] {
				s.fatalf("task %v runs twice", t)
			}
			seen.tasks[t] = true
		}
	}
}

// checkFairRevocations: a member that loses configured work that nobody
// else runs (a load-balancing revocation) keeps at least its even share,
// so balancing never stops more than it must.
func (s *sim) checkFairRevocations(before map[string]Work, res map[string]Assignment) {
	s.t.Helper()
	configured := unitsOf(configuredWork(s.connectors))
	dup := duplicates(slices.Sorted(maps.Keys(before)), before)
	floorConns := len(configured.conns) / len(before)
	floorTasks := len(configured.tasks) / len(before)
	for id, a := range res {
		balancing := without(within(a.Revoked, configured), dup)
		if len(balancing.Connectors) > 0 && len(a.Owned.Connectors) < floorConns {
			s.fatalf("%s gives up connectors %v and keeps %d, under its share %d", id, balancing.Connectors, len(a.Owned.Connectors), floorConns)
		}
		if len(balancing.Tasks) > 0 && len(a.Owned.Tasks) < floorTasks {
			s.fatalf("%s gives up tasks %v and keeps %d, under its share %d", id, balancing.Tasks, len(a.Owned.Tasks), floorTasks)
		}
	}
}

// checkSettled: every configured connector and task runs exactly once,
// nothing deleted runs, and no member runs more than ceil(n/members) of
// either kind (nor more than one over another member).
func (s *sim) checkSettled() {
	s.t.Helper()
	s.checkNoDuplicates()
	configured := configuredWork(s.connectors)
	running := newUnits()
	for _, w := range s.workers {
		running.add(w.work)
	}
	if missing := unitsOf(configured).minus(running); !missing.empty() {
		s.fatalf("settled with %v running nowhere", missing)
	}
	if extra := running.minus(unitsOf(configured)); !extra.empty() {
		s.fatalf("settled with deleted %v still running", extra)
	}
	n := len(s.workers)
	ceilConns := (len(configured.Connectors) + n - 1) / n
	ceilTasks := (len(configured.Tasks) + n - 1) / n
	for id, w := range s.workers {
		if len(w.work.Connectors) > ceilConns || len(w.work.Tasks) > ceilTasks {
			s.fatalf("settled with %s running %d connectors and %d tasks, over %d and %d",
				id, len(w.work.Connectors), len(w.work.Tasks), ceilConns, ceilTasks)
		}
	}
	members := map[string]Work{}
	for id, w := range s.workers {
		members[id] = w.work
	}
	for _, tasks := range []bool{false, true} {
		if a := allocations(members, tasks); a[len(a)-1]-a[0] > 1 {
			s.fatalf("settled imbalanced (tasks %v): %v", tasks, a)
		}
	}
}

// live runs a random life of events, settling now and then and at the end.
func (s *sim) live(steps int) {
	s.t.Helper()
	s.settle()
	s.checkSettled()
	for range steps {
		deliver := true
		switch s.rng.IntN(10) {
		case 0, 1:
			s.join()
		case 2:
			if len(s.workers) > 1 {
				s.crash(s.pick())
			}
		case 3:
			if len(s.workers) > 1 && s.leader != "" {
				s.crash(s.leader)
			}
		case 4:
			s.addConnector()
		case 5:
			if len(s.connectors) > 0 {
				c := slices.Sorted(maps.Keys(s.connectors))[s.rng.IntN(len(s.connectors))]
				delete(s.connectors, c)
				s.event("delete %s", c)
			}
		case 6:
			if len(s.connectors) > 0 {
				c := slices.Sorted(maps.Keys(s.connectors))[s.rng.IntN(len(s.connectors))]
				s.connectors[c] = s.rng.IntN(9)
				s.event("reconfigure %s to %d tasks", c, s.connectors[c])
			}
		case 7:
			deliver = false
			s.event("sync fails")
		case 8:
			d := time.Duration(s.rng.Int64N(2*s.maxDelay+2)) * time.Millisecond
			s.now = s.now.Add(d)
			s.event("sleep %v", d)
		case 9:
			s.settle()
			s.checkSettled()
			s.event("settled")
			continue
		}
		s.round(deliver)
	}
	s.settle()
	s.checkSettled()
}

// TestCooperativeProperties lives random cluster histories (joins,
// crashes of followers and leaders, connectors created, deleted and
// resized, failed syncs, time passing) and checks every round (nothing
// newly assigned that runs, nothing running twice, revocations only of
// what runs and never below an even share, Owned is what members run)
// and every settled state (everything configured runs exactly once,
// nothing deleted runs, no member over ceil(n/members)).
func TestCooperativeProperties(t *testing.T) {
	t.Parallel()
	for seed := range uint64(400) {
		s := newSim(t, seed)
		s.live(40)
	}
}

// TestCooperativeDeterministic replays histories and wants the same
// assignments each time: nothing depends on map order.
func TestCooperativeDeterministic(t *testing.T) {
	t.Parallel()
	for seed := range uint64(40) {
		a, b := newSim(t, seed), newSim(t, seed)
		a.live(30)
		b.live(30)
		if !reflect.DeepEqual(a.transcript, b.transcript) {
			t.Fatalf("seed %d: two replays of the same history assigned differently", seed)
		}
	}
}

// TestCooperativeJoinMovesOnlyWhatMust: a worker joins a settled cluster.
// Until it settles again, only what the newcomer ends up running is ever
// stopped, and no old worker starts anything.
func TestCooperativeJoinMovesOnlyWhatMust(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		s := newSim(t, seed)
		s.live(10)
		before := map[string]units{}
		for id, w := range s.workers {
			before[id] = unitsOf(w.work)
		}
		id := s.join()
		stopped := newUnits()
		for range 200 {
			moved, delay := s.round(true)
			for _, a := range s.transcript[len(s.transcript)-1] {
				stopped.add(a.Revoked)
			}
			if !moved && delay == 0 {
				break
			}
			if !moved {
				s.now = s.now.Add(delay)
			}
		}
		s.checkSettled()
		if got := unitsOf(s.workers[id].work); !maps.Equal(got.conns, stopped.conns) || !maps.Equal(got.tasks, stopped.tasks) {
			s.fatalf("the newcomer runs %v, but %v were stopped", s.workers[id].work, stopped.minus())
		}
		for old, had := range before {
			if gained := unitsOf(s.workers[old].work).minus(had); !gained.empty() {
				s.fatalf("%s started %v", old, gained)
			}
		}
	}
}

// TestCooperativeBounceGetsWorkBack: a follower of a settled cluster dies
// and comes back (with a new member id, as a restarted worker does)
// within the scheduled delay. Nothing moves until the delay expires; then
// the dead worker's work goes to the members that had nothing to run (the
// returning one, and any idle one), and nothing else moves. With no idle
// member the returning worker gets exactly its old work back.
func TestCooperativeBounceGetsWorkBack(t *testing.T) {
	t.Parallel()
	exact := 0
	for seed := range uint64(300) {
		s := newSim(t, seed)
		if s.maxDelay < 2 {
			s.maxDelay = defaultMaxDelay
			for _, w := range s.workers {
				w.assignor.maxDelay = s.maxDelay
			}
		}
		s.join()
		s.live(10)
		var victim string
		for _, id := range s.ids() {
			if id != s.leader && !s.workers[id].work.empty() {
				victim = id
				break
			}
		}
		if victim == "" {
			continue
		}
		lost := s.workers[victim].work
		busy := map[string]Work{}
		var idle []string
		for id, w := range s.workers {
			switch {
			case id == victim:
			case w.work.empty():
				idle = append(idle, id)
			default:
				busy[id] = w.work.clone()
			}
		}
		s.crash(victim)
		if moved, delay := s.round(true); moved || delay.Milliseconds() != s.maxDelay {
			s.fatalf("a worker died: moved %v, delay %v; want nothing moved and the max delay", moved, delay)
		}
		s.now = s.now.Add(time.Duration(s.maxDelay/2) * time.Millisecond)
		idle = append(idle, s.join())
		if moved, delay := s.round(true); moved || delay.Milliseconds() != s.maxDelay-s.maxDelay/2 {
			s.fatalf("it came back: moved %v, delay %v; want nothing moved and the rest of the delay", moved, delay)
		}
		s.now = s.now.Add(time.Duration(s.maxDelay-s.maxDelay/2) * time.Millisecond)
		s.round(true)
		var took []Work
		for _, id := range idle {
			took = append(took, s.workers[id].work)
		}
		if got := unitsOf(took...); !sameUnits(Work{Connectors: slices.Collect(maps.Keys(got.conns)), Tasks: slices.Collect(maps.Keys(got.tasks))}, lost) {
			s.fatalf("idle and returning workers %v run %v, the dead one ran %v", idle, took, lost)
		}
		if len(idle) == 1 {
			exact++
		}
		for id, w := range busy {
			if !sameUnits(s.workers[id].work, w) {
				s.fatalf("%s went from %v to %v", id, w, s.workers[id].work)
			}
		}
		s.settle()
		s.checkSettled()
	}
	if exact < 100 {
		t.Errorf("only %d histories had the returning worker alone to take the work back", exact)
	}
}

func (w Work) String() string {
	var b strings.Builder
	b.WriteString("{")
	b.WriteString(strings.Join(w.Connectors, " "))
	for _, t := range w.Tasks {
		fmt.Fprintf(&b, " %s-%d", t.Connector, t.ID)
	}
	b.WriteString("}")
	return b.String()
}
