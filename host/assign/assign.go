// Package assign decides, for the leader of a distributed-mode group, which
// worker runs which connector and task. It ports Kafka Connect's two
// assignors (runtime/distributed EagerAssignor and
// IncrementalCooperativeAssignor) behaviour for behaviour, as pure code:
// plain types in and out, no Kafka, no protocol bytes, no clock and no
// goroutines. The group membership and the wire codecs live in host/kafka.
//
// Connectors and tasks are distinct units of work, as in Kafka Connect: a
// connector instance (task -1 on the wire) can run on one worker and its
// tasks on others.
//
// # How the leader calls it
//
// Each worker builds one *Cooperative at start-up with
// scheduled.rebalance.max.delay.ms and keeps it for its whole life, leader
// or not (Kafka Connect's WorkerCoordinator does the same). When it is
// elected leader of a rebalance it:
//
//  1. takes the highest config offset any member reports and reads the
//     config topic that far; if it cannot, it sends every member
//     CONFIG_MISMATCH and calls nothing here (the assignor's memory stays
//     as it was, as in Kafka Connect);
//  2. fills a Round: the config snapshot's connectors and task counts,
//     each member's reported work, the generation being assigned, the
//     generation of its own last completed join, and now;
//  3. calls Eager(round) if the group chose protocol "default"
//     (connect.protocol=eager), or cooperative.Assign(round) for
//     "compatible" and "sessioned";
//  4. encodes each member's Assignment (Assigned as the assignment,
//     Revoked, Delay) and keeps Owned to know which worker runs what, for
//     forwarding requests (Kafka Connect's LeaderState).
package assign

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Task identifies one task of a connector, as Kafka Connect's
// ConnectorTaskId does. IDs run from 0 to the connector's task count - 1.
type Task struct {
	Connector string
	ID        int
}

// compareTasks orders tasks by connector, then ID (ConnectorTaskId's
// natural order).
func compareTasks(a, b Task) int {
	if c := strings.Compare(a.Connector, b.Connector); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Work is a set of connectors and tasks: what a member runs, or is told
// to start or stop. The order of the lists is meaningful where noted (a
// member's reported order decides which of its units a load-balancing
// revocation takes first); a unit appears at most once in each list.
type Work struct {
	Connectors []string
	Tasks      []Task
}

// empty reports whether w holds nothing.
func (w Work) empty() bool { return len(w.Connectors) == 0 && len(w.Tasks) == 0 }

// clone returns a copy of w that shares no memory with it.
func (w Work) clone() Work {
	return Work{Connectors: slices.Clone(w.Connectors), Tasks: slices.Clone(w.Tasks)}
}

// Round is what the leader knows when it assigns one rebalance.
type Round struct {
	// Connectors is the config snapshot the leader assigns against:
	// every configured connector and its task count. A connector whose
	// task configs are inconsistent (Kafka Connect's ClusterConfigState
	// reports no tasks for it) has count 0. Negative counts count as 0.
	Connectors map[string]int
	// Members maps each group member's id to the work it reports running
	// in its subscription (the Assignment a version 1 or 2 subscription
	// carries, already merged with what the member kept; empty for a new
	// member or a version 0 subscription). The eager assignor ignores it.
	Members map[string]Work
	// Generation is the group generation being assigned (the JoinGroup
	// response's).
	Generation int
	// LastGeneration is the generation of the leader's own last completed
	// join (SyncGroup answered and assignment taken), -1 if none. When it
	// is not the generation the cooperative assignor last assigned, the
	// assignor forgets its previous assignment: some round since went
	// unrecorded (another leader, a failed SyncGroup).
	LastGeneration int
	// Now is the leader's wall-clock time; the cooperative assignor
	// measures the scheduled rebalance delay with it, in whole
	// milliseconds (Now.UnixMilli).
	Now time.Time
}

// Assignment is what the leader sends one member.
type Assignment struct {
	// Assigned is what the member starts: under the eager protocol all it
	// runs from now on; under the cooperative protocols only what it did
	// not report running (the member adds it to what it keeps).
	Assigned Work
	// Revoked is what the member stops before it rejoins at once
	// (cooperative protocols only; under eager a member stops everything
	// itself before it joins). As in Kafka Connect it can name lost work
	// the member was handed and relieved of in the same round, which it
	// never started: stopping that is a no-op, but the revocation makes
	// the member rejoin, and the next round assigns that work.
	Revoked Work
	// Delay is how long the member waits before it rejoins when the
	// leader holds lost work back or backs off revocations (cooperative
	// protocols only); whole milliseconds, at most the max delay.
	Delay time.Duration
	// Owned is everything the member runs once it has applied this
	// assignment. The leader answers "who runs connector X" from it.
	Owned Work
}

// configuredWork returns every connector of a config snapshot and all
// their tasks, each list sorted.
func configuredWork(connectors map[string]int) Work {
	var w Work
	for name, n := range connectors {
		w.Connectors = append(w.Connectors, name)
		for id := range max(n, 0) {
			w.Tasks = append(w.Tasks, Task{Connector: name, ID: id})
		}
	}
	slices.Sort(w.Connectors)
	slices.SortFunc(w.Tasks, compareTasks)
	return w
}

// sortedIDs returns the member ids in order.
func sortedIDs(members map[string]Work) []string {
	ids := make([]string, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
