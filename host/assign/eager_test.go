package assign

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestEagerAssignor mirrors the eager assignments Kafka checks in
// WorkerCoordinatorTest (there is no EagerAssignorTest): members "leader"
// and "member", round-robin of connectors, then of tasks continuing where
// the connectors left off.
func TestEagerAssignor(t *testing.T) {
	t.Parallel()
	members := map[string]Work{"leader": {}, "member": {}}
	tests := []struct {
		name       string
		connectors map[string]int
		members    map[string]Work
		want       map[string]Work
	}{
		{
			name:       "testLeaderPerformAssignment1",
			connectors: map[string]int{"connector1": 1},
			members:    members,
			want: map[string]Work{
				"leader": {Connectors: []string{"connector1"}},
				"member": {Tasks: []Task{{"connector1", 0}}},
			},
		},
		{
			name:       "testLeaderPerformAssignment2",
			connectors: map[string]int{"connector1": 2, "connector2": 1},
			members:    members,
			want: map[string]Work{
				"leader": {Connectors: []string{"connector1"}, Tasks: []Task{{"connector1", 0}, {"connector2", 0}}},
				"member": {Connectors: []string{"connector2"}, Tasks: []Task{{"connector1", 1}}},
			},
		},
		{
			name:       "testLeaderPerformAssignmentSingleTaskConnectors",
			connectors: map[string]int{"connector1": 1, "connector2": 1, "connector3": 1},
			members:    members,
			want: map[string]Work{
				"leader": {Connectors: []string{"connector1", "connector3"}, Tasks: []Task{{"connector2", 0}}},
				"member": {Connectors: []string{"connector2"}, Tasks: []Task{{"connector1", 0}, {"connector3", 0}}},
			},
		},
		{
			// What members report does not matter: they stopped it all.
			name:       "reportedWorkIgnored",
			connectors: map[string]int{"connector1": 1},
			members: map[string]Work{
				"leader": {Tasks: []Task{{"connector1", 0}, {"gone", 3}}},
				"member": {Connectors: []string{"connector1"}},
			},
			want: map[string]Work{
				"leader": {Connectors: []string{"connector1"}},
				"member": {Tasks: []Task{{"connector1", 0}}},
			},
		},
		{
			name:       "noMembers",
			connectors: map[string]int{"connector1": 1},
			want:       map[string]Work{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Eager(Round{Connectors: tt.connectors, Members: tt.members, Generation: 7, LastGeneration: 6})
			if len(got) != len(tt.want) {
				t.Fatalf("assignments for %d members, want %d: %v", len(got), len(tt.want), got)
			}
			for id, w := range tt.want {
				a := got[id]
				if !reflect.DeepEqual(a.Assigned, w) || !reflect.DeepEqual(a.Owned, w) || !a.Revoked.empty() || a.Delay != 0 {
					t.Errorf("%s: %+v, want assigned and owned %v", id, a, w)
				}
			}
		})
	}
}

// TestEagerProperties checks over random clusters that every configured
// connector and task is assigned exactly once, to the member the
// round-robin names (members by id; connectors by name, then tasks by
// connector and ID, one sequence), and that connectors, tasks and both
// together are spread within one of each other.
func TestEagerProperties(t *testing.T) {
	t.Parallel()
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 1))
		connectors := map[string]int{}
		for i := range rng.IntN(12) {
			connectors[fmt.Sprintf("c%d", i)] = rng.IntN(9)
		}
		members := map[string]Work{}
		for i := range 1 + rng.IntN(7) {
			members[fmt.Sprintf("m%x", rng.IntN(1000)+i*1000)] = Work{}
		}
		got := Eager(Round{Connectors: connectors, Members: members})
		if len(got) != len(members) {
			t.Fatalf("seed %d: %d assignments for %d members", seed, len(got), len(members))
		}
		owned := map[string]Work{}
		seen := newUnits()
		for id, a := range got {
			owned[id] = a.Owned
			for _, c := range a.Assigned.Connectors {
				if seen.conns[c] {
					t.Fatalf("seed %d: connector %s assigned twice", seed, c)
				}
				seen.conns[c] = true
			}
			for _, tk := range a.Assigned.Tasks {
				if seen.tasks[tk] {
					t.Fatalf("seed %d: task %v assigned twice", seed, tk)
				}
				seen.tasks[tk] = true
			}
		}
		ids := slices.Sorted(maps.Keys(members))
		names := slices.Sorted(maps.Keys(connectors))
		want := map[string]Work{}
		for i, c := range names {
			w := want[ids[i%len(ids)]]
			w.Connectors = append(w.Connectors, c)
			want[ids[i%len(ids)]] = w
		}
		k := len(names)
		for _, c := range names {
			for id := range connectors[c] {
				w := want[ids[k%len(ids)]]
				w.Tasks = append(w.Tasks, Task{c, id})
				want[ids[k%len(ids)]] = w
				k++
			}
		}
		for _, id := range ids {
			if !reflect.DeepEqual(got[id].Assigned, want[id]) {
				t.Fatalf("seed %d: %s assigned %v, want %v", seed, id, got[id].Assigned, want[id])
			}
		}
		checkBalancedAndComplete(t, connectors, owned)
		lo, hi := 1<<30, 0
		for _, w := range owned {
			n := len(w.Connectors) + len(w.Tasks)
			lo, hi = min(lo, n), max(hi, n)
		}
		if hi-lo > 1 {
			t.Errorf("seed %d: total work per member spread from %d to %d", seed, lo, hi)
		}
	}
}
