package assign

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// delayWant checks a round's delay (ms); the zero value checks nothing.
type delayWant struct {
	set    bool
	lo, hi int64
}

func delayIs(ms int64) delayWant   { return delayWant{true, ms, ms} }
func delayOver(ms int64) delayWant { return delayWant{true, ms + 1, 1<<63 - 1} }

// memberWant is WorkerTestUtils.assertAssignment: the exact connectors
// assigned to and revoked from a member, how many tasks, and the delay.
type memberWant struct {
	conns        []string
	tasks        int
	revokedConns []string
	revokedTasks int
	delay        int64
}

// round is one rebalance of a scenario: what changes before it, how it
// goes, and what must hold after it. Checks left at their zero value are
// not made.
type round struct {
	// Before the round.
	sleep      int64  // ms
	sleepDelay int    // sleep the last round's delay divided by this
	newLeader  bool   // the leader changes: a fresh assignor
	leader     string // the leader changes to this one, with the memory it had when it last led
	leave      []string
	join       []string        // workers that run nothing
	joinWith   map[string]Work // workers that report work
	addConns   map[string]int
	removeConn []string
	kind       roundKind

	// After the round.
	delay         delayWant
	workers       []string // the members assigned to
	conns, tasks  []int    // connectors and tasks each member runs, in any order
	balanced      bool     // assertBalancedAndCompleteAllocation
	noRevocations bool
	empty         bool // nothing assigned or revoked
	stops         *int // how many revoked units members were running
	members       map[string]memberWant
}

type scenario struct {
	name     string         // the Java test mirrored
	maxDelay *int64         // ms; nil for the default
	addConns map[string]int // before the first round
	rounds   []round
}

func workers(n int) []string {
	var ids []string
	for i := 1; i <= n; i++ {
		ids = append(ids, "worker"+string(rune('0'+i)))
	}
	return ids
}

// incrementalCooperativeAssignorTest mirrors Kafka's
// IncrementalCooperativeAssignorTest, round for round and check for check,
// for every test that drives whole rebalances.
var incrementalCooperativeAssignorTest = []scenario{
	{
		name: "testTaskAssignmentWhenWorkerJoins",
		rounds: []round{
			{delay: delayIs(0), workers: workers(1), conns: []int{2}, tasks: []int{8}, balanced: true},
			// A second worker joins; all runs on the first, which gives up half.
			{join: []string{"worker2"}, delay: delayIs(0), workers: workers(2), conns: []int{0, 1}, tasks: []int{0, 4}},
			// The follow-up round assigns what was revoked.
			{noRevocations: true, delay: delayIs(0), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			// Nothing changes afterwards.
			{sleepDelay: 1, delay: delayIs(0), empty: true},
		},
	},
	{
		name:     "testAssignmentsWhenWorkersJoinAfterRevocations",
		addConns: map[string]int{"connector3": 4},
		rounds: []round{
			{delay: delayIs(0), workers: workers(1), conns: []int{3}, tasks: []int{12}, balanced: true},
			// Worker 2 joins: revoke.
			{join: []string{"worker2"}, workers: workers(2), conns: []int{0, 2}, tasks: []int{0, 6}},
			// Worker 3 joins right after: a successive revoking round, so it
			// backs off instead, assigning only what was revoked before.
			{join: []string{"worker3"}, delay: delayOver(0), workers: workers(3), conns: []int{0, 1, 2}, tasks: []int{3, 3, 6}},
			// Worker 4 joins once the back-off expired: revoke.
			{sleepDelay: 1, join: []string{"worker4"}, workers: workers(4), conns: []int{0, 0, 1, 1}, tasks: []int{0, 3, 3, 3}},
			// Worker 5 joins right after: back off longer than the first time.
			{join: []string{"worker5"}, delay: delayOver(40), workers: workers(5), conns: []int{0, 0, 1, 1, 1}, tasks: []int{1, 2, 3, 3, 3}},
			// Worker 6 joins after it expired: revoke.
			{sleepDelay: 1, join: []string{"worker6"}, delay: delayIs(0), workers: workers(6), conns: []int{0, 0, 0, 1, 1, 1}, tasks: []int{0, 1, 2, 2, 2, 2}},
			{workers: workers(6), conns: []int{0, 0, 0, 1, 1, 1}, tasks: []int{2, 2, 2, 2, 2, 2}, balanced: true},
		},
	},
	{
		name:     "testImmediateRevocationsWhenMaxDelayIs0",
		maxDelay: ptr[int64](0),
		addConns: map[string]int{"connector3": 4},
		rounds: []round{
			{delay: delayIs(0), workers: workers(1), conns: []int{3}, tasks: []int{12}, balanced: true},
			{join: []string{"worker2"}, workers: workers(2), conns: []int{0, 2}, tasks: []int{0, 6}},
			// A successive revoking round revokes at once: the max delay is 0.
			{join: []string{"worker3"}, delay: delayIs(0), workers: workers(3), conns: []int{0, 1, 1}, tasks: []int{3, 3, 4}},
			{workers: workers(3), noRevocations: true, conns: []int{1, 1, 1}, tasks: []int{4, 4, 4}, balanced: true},
		},
	},
	{
		name:     "testSuccessiveRevocationsWhenMaxDelayIsEqualToExpBackOffInitialInterval",
		maxDelay: ptr[int64](1),
		addConns: map[string]int{"connector3": 4},
		rounds: []round{
			{delay: delayIs(0), workers: workers(1), conns: []int{3}, tasks: []int{12}, balanced: true},
			{join: []string{"worker2"}, workers: workers(2), conns: []int{0, 2}, tasks: []int{0, 6}},
			// A successive revoking round backs off for the max delay, 1 ms.
			{join: []string{"worker3"}, delay: delayIs(1), workers: workers(3), conns: []int{0, 1, 2}, tasks: []int{3, 3, 6}},
		},
	},
	{
		name:     "testWorkerJoiningDuringDelayedRebalance",
		addConns: map[string]int{"connector3": 4},
		rounds: []round{
			{delay: delayIs(0), workers: workers(1), conns: []int{3}, tasks: []int{12}, balanced: true},
			{join: []string{"worker2"}, workers: workers(2), conns: []int{0, 2}, tasks: []int{0, 6}},
			{join: []string{"worker3"}, delay: delayOver(0), workers: workers(3), noRevocations: true, conns: []int{0, 1, 2}, tasks: []int{3, 3, 6}},
			// Worker 4 joins while the back-off runs: no revocations.
			{sleepDelay: 2, join: []string{"worker4"}, delay: delayOver(0), workers: workers(4), noRevocations: true, conns: []int{0, 0, 1, 2}, tasks: []int{0, 3, 3, 6}},
			// Worker 5 joins after it expired: load-balancing revocations.
			{sleepDelay: 1, join: []string{"worker5"}, workers: workers(5), delay: delayIs(0), conns: []int{0, 0, 0, 1, 1}, tasks: []int{0, 0, 2, 3, 3}},
			{delay: delayIs(0), noRevocations: true, conns: []int{0, 0, 1, 1, 1}, tasks: []int{2, 2, 2, 3, 3}, balanced: true},
		},
	},
	{
		name: "testTaskAssignmentWhenWorkerLeavesPermanently",
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), workers: workers(2), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			// A follower leaves: nothing moves, the delay starts.
			{leave: []string{"worker2"}, delay: delayIs(defaultMaxDelay), workers: workers(1), empty: true},
			// A round half-way: the rest of the delay.
			{sleep: defaultMaxDelay / 2, delay: delayIs(defaultMaxDelay / 2), empty: true},
			// The delay expired: the lost work is reassigned.
			{sleep: defaultMaxDelay/2 + 1, delay: delayIs(0), conns: []int{2}, tasks: []int{8}, balanced: true},
		},
	},
	{
		name: "testTaskAssignmentWhenWorkerBounces",
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), workers: workers(2), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			{leave: []string{"worker2"}, delay: delayIs(defaultMaxDelay), workers: workers(1), empty: true},
			{sleep: defaultMaxDelay / 2, delay: delayIs(defaultMaxDelay / 2), empty: true},
			// The worker returns within the delay: still nothing moves.
			{sleep: defaultMaxDelay / 4, join: []string{"worker2"}, delay: delayIs(defaultMaxDelay / 4), workers: workers(2), empty: true},
			// The delay expired: the returning worker gets the lost work.
			{sleep: defaultMaxDelay / 4, delay: delayIs(0), noRevocations: true, conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
		},
	},
	{
		name: "testTaskAssignmentWhenLeaderLeavesPermanently",
		rounds: []round{
			{join: []string{"worker2", "worker3"}, delay: delayIs(0), workers: workers(3), conns: []int{0, 1, 1}, tasks: []int{2, 3, 3}, balanced: true},
			// The leader leaves; the new one remembers nothing, so it
			// reassigns the missing work at once.
			{leave: []string{"worker1"}, newLeader: true, delay: delayIs(0), workers: []string{"worker2", "worker3"}, conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			{delay: delayIs(0), empty: true},
		},
	},
	{
		name: "testTaskAssignmentWhenLeaderBounces",
		rounds: []round{
			{join: []string{"worker2", "worker3"}, delay: delayIs(0), workers: workers(3), conns: []int{0, 1, 1}, tasks: []int{2, 3, 3}, balanced: true},
			{leave: []string{"worker1"}, newLeader: true, delay: delayIs(0), workers: []string{"worker2", "worker3"}, conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			// The old leader returns as a follower: a new worker, so revoke.
			{join: []string{"worker1"}, delay: delayIs(0), workers: workers(3), conns: []int{0, 1, 1}, tasks: []int{0, 3, 3}},
			{delay: delayIs(0), noRevocations: true, conns: []int{0, 1, 1}, tasks: []int{2, 3, 3}, balanced: true},
		},
	},
	{
		name: "testTaskAssignmentWhenFirstAssignmentAttemptFails",
		rounds: []round{
			// The assignment never reaches the members.
			{join: []string{"worker2"}, kind: failed, delay: delayIs(0), workers: workers(2), conns: []int{0, 0}, tasks: []int{0, 0}},
			// Same members, same reports: the missing work is assigned again
			// at once, without a delay.
			{delay: delayIs(0), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
		},
	},
	{
		name: "testTaskAssignmentWhenSubsequentAssignmentAttemptFails",
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), workers: workers(2), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			// Worker 3 joins; the revoking assignment is never delivered.
			{join: []string{"worker3"}, kind: failed, delay: delayIs(0), workers: workers(3), conns: []int{0, 1, 1}, tasks: []int{0, 4, 4}},
			// The same reports again: a successive revoking round, so back off.
			{delay: delayOver(0), conns: []int{0, 1, 1}, tasks: []int{0, 4, 4}},
			{sleepDelay: 1, delay: delayIs(0), conns: []int{0, 1, 1}, tasks: []int{0, 3, 3}},
			{conns: []int{0, 1, 1}, tasks: []int{2, 3, 3}, balanced: true},
		},
	},
	{
		name: "testTaskAssignmentWhenSubsequentAssignmentAttemptFailsOutsideTheAssignor",
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), workers: workers(2), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			// The SyncGroup fails on the leader itself.
			{join: []string{"worker3"}, kind: failed, delay: delayIs(0), workers: workers(3), conns: []int{0, 1, 1}, tasks: []int{0, 4, 4}},
			// The leader's last completed generation is not the last it
			// assigned: it forgets its previous assignment, but still backs off.
			{kind: mismatched, delay: delayOver(0), conns: []int{0, 1, 1}, tasks: []int{0, 4, 4}},
			{sleepDelay: 1, conns: []int{0, 1, 1}, tasks: []int{0, 3, 3}},
			{conns: []int{0, 1, 1}, tasks: []int{2, 3, 3}, balanced: true},
		},
	},
	{
		name:     "testTaskAssignmentWhenConnectorsAreDeleted",
		addConns: map[string]int{"connector3": 4},
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), workers: workers(2), conns: []int{1, 2}, tasks: []int{6, 6}, balanced: true},
			{removeConn: []string{"connector3"}, delay: delayIs(0), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
		},
	},
	{
		name:     "testScheduledDelayIsDisabled",
		maxDelay: ptr[int64](0),
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), workers: workers(2), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			// A follower leaves: its work is reassigned at once.
			{leave: []string{"worker2"}, delay: delayIs(0), workers: workers(1), conns: []int{2}, tasks: []int{8}, balanced: true},
		},
	},
	{
		name: "testTaskAssignmentWhenTasksDuplicatedInWorkerAssignment",
		rounds: []round{
			{delay: delayIs(0), workers: workers(1), conns: []int{2}, tasks: []int{8}, balanced: true},
			// A worker joins reporting connector1 and its tasks, which worker1
			// runs too: both lose them, and worker1 half of the rest.
			{joinWith: map[string]Work{"worker2": {Connectors: []string{"connector1"}, Tasks: tasksOf("connector1", 0, 4)}},
				delay: delayIs(0), workers: workers(2), conns: []int{0, 1}, tasks: []int{0, 4}},
			{delay: delayIs(0), noRevocations: true, conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			{delay: delayIs(0), empty: true},
		},
	},
	{
		name: "testDuplicatedAssignmentHandleWhenTheDuplicatedAssignmentsDeleted",
		rounds: []round{
			{delay: delayIs(0), workers: workers(1), conns: []int{2}, tasks: []int{8}, balanced: true},
			// The duplicated connector is deleted at the same time.
			{removeConn: []string{"connector1"}, joinWith: map[string]Work{"worker2": {Connectors: []string{"connector1"}, Tasks: tasksOf("connector1", 0, 4)}},
				delay: delayIs(0), workers: workers(2), conns: []int{0, 1}, tasks: []int{0, 2}},
			{delay: delayIs(0), noRevocations: true, conns: []int{0, 1}, tasks: []int{2, 2}, balanced: true},
			{sleepDelay: 1, delay: delayIs(0), empty: true},
		},
	},
	{
		// The Java test checks that the leader records who runs what; here
		// every round checks each member's Owned against what it runs.
		name: "testLeaderStateUpdated",
		rounds: []round{
			{removeConn: []string{"connector1", "connector2"}, workers: workers(1), delay: delayIs(0), empty: true},
		},
	},
}

// workerCoordinatorIncrementalTest mirrors the assignments checked by
// Kafka's WorkerCoordinatorIncrementalTest (worker1 leads; two connectors
// of four tasks each), member by member.
var workerCoordinatorIncrementalTest = []scenario{
	{
		name: "testTaskAssignmentWhenWorkerJoins",
		rounds: []round{
			{join: []string{"worker2"}, members: map[string]memberWant{
				"worker1": {conns: []string{"connector1"}, tasks: 4},
				"worker2": {conns: []string{"connector2"}, tasks: 4},
			}},
			// A third worker: one task revoked from each of the others.
			{join: []string{"worker3"}, members: map[string]memberWant{
				"worker1": {revokedTasks: 1},
				"worker2": {revokedTasks: 1},
				"worker3": {},
			}},
		},
	},
	{
		name: "testTaskAssignmentWhenWorkerLeavesPermanently",
		rounds: []round{
			{join: []string{"worker2", "worker3"}, members: map[string]memberWant{
				"worker1": {conns: []string{"connector1"}, tasks: 3},
				"worker2": {conns: []string{"connector2"}, tasks: 3},
				"worker3": {tasks: 2},
			}},
			{leave: []string{"worker3"}, members: map[string]memberWant{
				"worker1": {delay: defaultMaxDelay},
				"worker2": {delay: defaultMaxDelay},
			}},
			{sleep: defaultMaxDelay / 2, members: map[string]memberWant{
				"worker1": {delay: defaultMaxDelay / 2},
				"worker2": {delay: defaultMaxDelay / 2},
			}},
			{sleep: defaultMaxDelay/2 + 1, members: map[string]memberWant{
				"worker1": {tasks: 1},
				"worker2": {tasks: 1},
			}},
		},
	},
	{
		name: "testTaskAssignmentWhenWorkerBounces",
		rounds: []round{
			{join: []string{"worker2", "worker3"}, members: map[string]memberWant{
				"worker1": {conns: []string{"connector1"}, tasks: 3},
				"worker2": {conns: []string{"connector2"}, tasks: 3},
				"worker3": {tasks: 2},
			}},
			{leave: []string{"worker3"}, members: map[string]memberWant{
				"worker1": {delay: defaultMaxDelay},
				"worker2": {delay: defaultMaxDelay},
			}},
			{sleep: defaultMaxDelay / 2, join: []string{"worker3"}, members: map[string]memberWant{
				"worker1": {delay: defaultMaxDelay / 2},
				"worker2": {delay: defaultMaxDelay / 2},
				"worker3": {delay: defaultMaxDelay / 2},
			}},
			// The delay expired: the returning worker gets its tasks back.
			{sleep: defaultMaxDelay/2 + 1, members: map[string]memberWant{
				"worker1": {},
				"worker2": {},
				"worker3": {tasks: 2},
			}},
		},
	},
}

// beyondKafkasTests are histories Kafka's tests do not cover: each pins a
// behaviour of IncrementalCooperativeAssignor (or Ferry's one deliberate
// change to it) that no Java test would catch if it broke.
var beyondKafkasTests = []scenario{
	{
		// A leader that led before, then not, then again, must not trust
		// its memory: its last completed generation is not the one it
		// last assigned. Trusting it would take the tasks another leader
		// revoked since for lost work and hold them back.
		name: "generationMismatchForgetsPreviousAssignment",
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			// Another leader, B, balances onto a third worker.
			{leader: "B", join: []string{"worker3"}, delay: delayIs(0), conns: []int{0, 1, 1}, tasks: []int{0, 3, 3}},
			// A leads again as worker2 leaves: everything nobody runs is
			// assigned at once, without a delay.
			{leader: "A", leave: []string{"worker2"}, delay: delayIs(0), workers: []string{"worker1", "worker3"}, conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
		},
	},
	{
		// The leader revoked, and assigned a new connector to a new
		// worker, but no member applied it; that worker leaves. Members
		// still run what was revoked, so the leader rebuilds its memory
		// from their reports: the new connector was never running, so it
		// is created work (assigned now), not lost work held back.
		name: "revocationThatDidNotTakeEffect",
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			{join: []string{"worker3"}, addConns: map[string]int{"connector3": 1}, kind: failed, conns: []int{0, 1, 1}, tasks: []int{0, 4, 4}},
			{leave: []string{"worker3"}, delay: delayIs(defaultMaxDelay), conns: []int{1, 2}, tasks: []int{4, 5}},
		},
	},
	{
		// Once the load has converged, the back-off between revoking
		// rounds starts over from 40 ms.
		name:     "backoffStartsOverOnceBalanced",
		addConns: map[string]int{"connector3": 4},
		rounds: []round{
			{delay: delayIs(0), conns: []int{3}, tasks: []int{12}, balanced: true},
			{join: []string{"worker2"}, delay: delayIs(0), conns: []int{0, 2}, tasks: []int{0, 6}},
			{join: []string{"worker3"}, delay: delayIs(40), noRevocations: true},
			{sleepDelay: 1, delay: delayIs(0)},
			{delay: delayIs(0), noRevocations: true, conns: []int{1, 1, 1}, tasks: []int{4, 4, 4}, balanced: true},
			{join: []string{"worker4"}, delay: delayIs(0), conns: []int{0, 1, 1, 1}, tasks: []int{0, 3, 3, 3}},
			{join: []string{"worker5"}, delay: delayIs(40), noRevocations: true},
		},
	},
	{
		// Connectors change while lost work is held back: a new one is
		// assigned at once; deleting the lost one ends the delay.
		name: "connectorsChangedDuringDelay",
		rounds: []round{
			// A new leader adopts what members report, and balances tasks.
			{joinWith: map[string]Work{
				"worker1": {Connectors: []string{"connector1"}, Tasks: tasksOf("connector1", 0, 4)},
				"worker2": {Connectors: []string{"connector2"}, Tasks: tasksOf("connector2", 0, 4)},
			}, join: []string{"worker3"}, delay: delayIs(0), conns: []int{0, 1, 1}, tasks: []int{0, 3, 3}},
			// worker2 (connector2) leaves as connector3 is created.
			{leave: []string{"worker2"}, addConns: map[string]int{"connector3": 2}, delay: delayIs(defaultMaxDelay), conns: []int{1, 1}, tasks: []int{3, 4}},
			{sleep: 1000, removeConn: []string{"connector2"}, delay: delayIs(0), conns: []int{1, 1}, tasks: []int{3, 3}, balanced: true},
		},
	},
	{
		// With nothing configured, a leader that never knew of the work a
		// member reports does not revoke it; a round later it remembers
		// it, and revokes it as deleted.
		name: "unknownWorkStopsOneRoundLater",
		rounds: []round{
			{removeConn: []string{"connector1", "connector2"}, joinWith: map[string]Work{"worker1": {Connectors: []string{"connector9"}, Tasks: tasksOf("connector9", 0, 1)}},
				delay: delayIs(0), noRevocations: true, conns: []int{1}, tasks: []int{1}},
			{delay: delayIs(0), conns: []int{0}, tasks: []int{0}},
		},
	},
	{
		name: "severalWorkersLost",
		rounds: []round{
			{join: []string{"worker2", "worker3", "worker4"}, delay: delayIs(0), conns: []int{0, 0, 1, 1}, tasks: []int{2, 2, 2, 2}, balanced: true},
			{leave: []string{"worker2", "worker3"}, delay: delayIs(defaultMaxDelay), empty: true},
			{sleep: defaultMaxDelay / 2, delay: delayIs(defaultMaxDelay / 2), empty: true},
			{sleep: defaultMaxDelay / 2, delay: delayIs(0), noRevocations: true, conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
		},
	},
	{
		name: "severalWorkersLostTwoReturn",
		rounds: []round{
			{join: []string{"worker2", "worker3", "worker4"}, delay: delayIs(0), conns: []int{0, 0, 1, 1}, tasks: []int{2, 2, 2, 2}, balanced: true},
			{leave: []string{"worker3", "worker4"}, delay: delayIs(defaultMaxDelay), empty: true},
			{sleep: defaultMaxDelay / 2, join: []string{"worker5", "worker6"}, delay: delayIs(defaultMaxDelay / 2), empty: true},
			{sleep: defaultMaxDelay / 2, delay: delayIs(0), stops: ptr(0), conns: []int{0, 0, 1, 1}, tasks: []int{2, 2, 2, 2}, balanced: true},
		},
	},
	{
		// Ferry's change: a returning worker was given a new connector
		// during the delay, so when it gets the lost work back it holds too
		// much. What it must give up is taken from the lost work it has not
		// started, not from what it runs (Kafka Connect stops two running
		// tasks of connector3 here).
		name: "lostWorkTakenBackBeforeRunningWork",
		rounds: []round{
			{join: []string{"worker2"}, delay: delayIs(0), conns: []int{1, 1}, tasks: []int{4, 4}, balanced: true},
			{leave: []string{"worker2"}, delay: delayIs(defaultMaxDelay), empty: true},
			{sleep: 1000, join: []string{"worker3"}, addConns: map[string]int{"connector3": 4}, delay: delayIs(defaultMaxDelay - 1000), conns: []int{1, 1}, tasks: []int{4, 4}},
			{sleep: defaultMaxDelay, delay: delayIs(0), stops: ptr(0), conns: []int{1, 2}, tasks: []int{4, 6}},
			{delay: delayIs(0), noRevocations: true, conns: []int{1, 2}, tasks: []int{6, 6}, balanced: true},
		},
	},
}

func TestBeyondKafkasTests(t *testing.T) {
	t.Parallel()
	runScenarios(t, beyondKafkasTests)
}

func TestIncrementalCooperativeAssignor(t *testing.T) {
	t.Parallel()
	runScenarios(t, incrementalCooperativeAssignorTest)
}

func TestWorkerCoordinatorIncremental(t *testing.T) {
	t.Parallel()
	runScenarios(t, workerCoordinatorIncrementalTest)
}

func ptr[T any](v T) *T { return &v }

func runScenarios(t *testing.T, scenarios []scenario) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			maxDelay := int64(defaultMaxDelay)
			if sc.maxDelay != nil {
				maxDelay = *sc.maxDelay
			}
			h := newHarness(t, maxDelay)
			maps.Copy(h.connectors, sc.addConns)
			for i, r := range sc.rounds {
				runRound(t, h, i+1, r)
			}
		})
	}
}

func runRound(t *testing.T, h *harness, n int, r round) {
	t.Helper()
	h.sleep(r.sleep)
	if r.sleepDelay > 0 {
		h.sleep(h.delay() / int64(r.sleepDelay))
	}
	for _, id := range r.leave {
		if _, ok := h.members[id]; !ok {
			t.Fatalf("round %d: worker %s does not exist", n, id)
		}
		delete(h.members, id)
	}
	if r.newLeader {
		h.newLeader()
	}
	if r.leader != "" {
		h.lead(r.leader)
	}
	for _, id := range r.join {
		h.members[id] = Work{}
	}
	for id, w := range r.joinWith {
		h.members[id] = w.clone()
	}
	maps.Copy(h.connectors, r.addConns)
	for _, c := range r.removeConn {
		delete(h.connectors, c)
	}

	before := cloneMembers(h.members)
	h.rebalance(r.kind)

	if r.delay.set {
		if d := h.delay(); d < r.delay.lo || d > r.delay.hi {
			t.Errorf("round %d: delay %d ms, want [%d, %d]", n, d, r.delay.lo, r.delay.hi)
		}
		if h.assignor.delay != h.delay() {
			t.Errorf("round %d: assignor delay %d, sent %d", n, h.assignor.delay, h.delay())
		}
	}
	if r.workers != nil {
		if got := slices.Sorted(maps.Keys(h.result)); !slices.Equal(got, r.workers) {
			t.Errorf("round %d: workers %v, want %v", n, got, r.workers)
		}
	}
	if r.conns != nil {
		if got := allocations(h.members, false); !slices.Equal(got, r.conns) {
			t.Errorf("round %d: connector allocations %v, want %v", n, got, r.conns)
		}
	}
	if r.tasks != nil {
		if got := allocations(h.members, true); !slices.Equal(got, r.tasks) {
			t.Errorf("round %d: task allocations %v, want %v", n, got, r.tasks)
		}
	}
	if r.balanced {
		checkBalancedAndComplete(t, h.connectors, h.members)
	}
	for id, a := range h.result {
		if (r.noRevocations || r.empty) && !a.Revoked.empty() {
			t.Errorf("round %d: %s revoked %v, want no revocations", n, id, a.Revoked)
		}
		if r.empty && !a.Assigned.empty() {
			t.Errorf("round %d: %s assigned %v, want nothing", n, id, a.Assigned)
		}
	}
	if r.stops != nil {
		stops := 0
		for id, a := range h.result {
			stops += len(within(a.Revoked, unitsOf(before[id])).Connectors) + len(within(a.Revoked, unitsOf(before[id])).Tasks)
		}
		if stops != *r.stops {
			t.Errorf("round %d: %d running units stopped, want %d", n, stops, *r.stops)
		}
	}
	for id, want := range r.members {
		a, ok := h.result[id]
		if !ok {
			t.Errorf("round %d: no assignment for %s", n, id)
			continue
		}
		if !slices.Equal(a.Assigned.Connectors, want.conns) || len(a.Assigned.Tasks) != want.tasks ||
			!slices.Equal(a.Revoked.Connectors, want.revokedConns) || len(a.Revoked.Tasks) != want.revokedTasks ||
			a.Delay != time.Duration(want.delay)*time.Millisecond {
			t.Errorf("round %d: %s got %+v, want %+v", n, id, a, want)
		}
	}
}
