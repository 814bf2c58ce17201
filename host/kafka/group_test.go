package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// joinAll has every member join at once (a join waits for the others)
// and returns their results in order.
func joinAll(t *testing.T, ctx context.Context, members ...*GroupMember) []JoinResult {
	t.Helper()
	results := make([]JoinResult, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := WorkerState{Version: 1, URL: fmt.Sprintf("http://w%d:8083/", i), ConfigOffset: int64(i)}
			results[i], errs[i] = m.Join(ctx, []GroupProtocol{
				{ProtocolCompatible, EncodeSubscription(state)},
				{ProtocolEager, EncodeSubscription(WorkerState{URL: state.URL, ConfigOffset: state.ConfigOffset})},
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	return results
}

// syncAll completes a generation: the leader assigns each member its own
// URL back, and every member must get its own.
func syncAll(t *testing.T, ctx context.Context, members []*GroupMember, joined []JoinResult) {
	t.Helper()
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var plan map[string][]byte
			if joined[i].Leader() {
				plan = map[string][]byte{}
				for _, mem := range joined[i].Members {
					s, err := DecodeSubscription(mem.Metadata)
					if err != nil {
						t.Errorf("leader decodes %s's subscription: %v", mem.ID, err)
						return
					}
					plan[mem.ID] = EncodeAssignment(ConnectAssignment{Version: 1, Leader: joined[i].MemberID, LeaderURL: s.URL})
				}
			}
			got, err := m.Sync(ctx, plan)
			if err != nil {
				t.Errorf("member %d: sync: %v", i, err)
				return
			}
			a, err := DecodeAssignment(got)
			if want := fmt.Sprintf("http://w%d:8083/", i); err != nil || a.LeaderURL != want {
				t.Errorf("member %d got assignment %+v (%v), want its own URL %s", i, a, err, want)
			}
		}()
	}
	wg.Wait()
}

func newMember(t *testing.T, bootstrap, group string) *GroupMember {
	t.Helper()
	m, err := NewGroupMember(bootstrap, group, "test-"+group, 6*time.Second, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Leave(context.Background()) })
	return m
}

// generation is what one member saw of one generation.
type generation struct {
	member   string // the member's URL
	gen      int32
	leader   bool
	members  int    // as the leader saw them (0 for others)
	assigned string // the LeaderURL of its assignment
}

// runMember keeps m in the group as Kafka Connect's coordinator does until
// ctx ends: join, sync (assigning as the leader), heartbeat every 100 ms,
// and join again when a heartbeat asks for it. It reports every
// generation it completes, then leaves.
func runMember(ctx context.Context, m *GroupMember, url string, gens chan<- generation) error {
	defer m.Leave(context.Background())
	for ctx.Err() == nil {
		joined, err := m.Join(ctx, []GroupProtocol{
			{ProtocolCompatible, EncodeSubscription(WorkerState{Version: 1, URL: url})},
			{ProtocolEager, EncodeSubscription(WorkerState{URL: url})},
		})
		if err != nil {
			return err
		}
		var plan map[string][]byte
		if joined.Leader() {
			plan = map[string][]byte{}
			for _, mem := range joined.Members {
				s, err := DecodeSubscription(mem.Metadata)
				if err != nil {
					return err
				}
				plan[mem.ID] = EncodeAssignment(ConnectAssignment{Version: 1, Leader: joined.MemberID, LeaderURL: s.URL})
			}
		}
		got, err := m.Sync(ctx, plan)
		if errors.Is(err, ErrRebalance) || errors.Is(err, ErrFenced) {
			continue
		}
		if err != nil {
			return err
		}
		a, err := DecodeAssignment(got)
		if err != nil {
			return err
		}
		// The leader is the one the synced assignment names: see
		// GroupMember on kfake.
		leader := a.Leader == joined.MemberID
		gens <- generation{member: url, gen: joined.Generation, leader: leader, members: len(joined.Members), assigned: a.LeaderURL}
		for {
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil
			}
			err := m.Heartbeat(ctx)
			if errors.Is(err, ErrRebalance) || errors.Is(err, ErrFenced) {
				break
			}
			if err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
	return nil
}

// settle waits until the members in want have all completed one
// generation together, with one leader who saw exactly them, each
// assigned its own URL back.
func settle(t *testing.T, gens <-chan generation, want ...string) int32 {
	t.Helper()
	latest := map[string]generation{}
	timeout := time.After(time.Minute)
	for {
		select {
		case g := <-gens:
			latest[g.member] = g
		case <-timeout:
			t.Fatalf("no generation with exactly %v; last seen %+v", want, latest)
		}
		gen := latest[want[0]].gen
		ok, leaders := true, 0
		for _, w := range want {
			g, seen := latest[w]
			if !seen || g.gen != gen || g.assigned != w {
				ok = false
			}
			if g.leader {
				leaders++
				if g.members != len(want) {
					ok = false
				}
			}
		}
		if ok && leaders == 1 {
			return gen
		}
	}
}

// Workers form a Connect group (protocol type "connect", their preferred
// protocol chosen): one leader sees every subscription and each member gets
// its own assignment. A third joining and then one leaving each bring a
// new generation with exactly the members present.
func TestGroupMembership(t *testing.T) {
	t.Parallel()
	bootstrap := testBroker(t)
	group := logTopic(t)
	gens := make(chan generation, 100)
	var wg sync.WaitGroup
	start := func(url string) context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		m := newMember(t, bootstrap, group)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runMember(ctx, m, url, gens); err != nil && ctx.Err() == nil {
				t.Errorf("member %s: %v", url, err)
			}
		}()
		return cancel
	}
	stopA, stopB := start("http://a:8083/"), start("http://b:8083/")
	defer stopA()
	first := settle(t, gens, "http://a:8083/", "http://b:8083/")
	stopC := start("http://c:8083/")
	defer stopC()
	second := settle(t, gens, "http://a:8083/", "http://b:8083/", "http://c:8083/")
	stopB()
	third := settle(t, gens, "http://a:8083/", "http://c:8083/")
	if !(first < second && second < third) {
		t.Errorf("generations %d, %d, %d: want them increasing", first, second, third)
	}
	stopA()
	stopC()
	wg.Wait()
}

// A member whose generation is gone is told to join again as a new one.
func TestGroupFencedMember(t *testing.T) {
	t.Parallel()
	bootstrap := testBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := newMember(t, bootstrap, logTopic(t))
	joined := joinAll(t, ctx, m)
	syncAll(t, ctx, []*GroupMember{m}, joined)
	m.generation++ // as if the member had missed a generation
	if err := m.Heartbeat(ctx); !errors.Is(err, ErrFenced) {
		t.Fatalf("heartbeat with a stale generation: %v, want ErrFenced", err)
	}
	if again := joinAll(t, ctx, m); again[0].MemberID == "" || again[0].Generation <= joined[0].Generation {
		t.Errorf("rejoin after fencing: %+v", again[0])
	}
}
