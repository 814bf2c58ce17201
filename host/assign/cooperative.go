package assign

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Cooperative is Kafka Connect's IncrementalCooperativeAssignor (KIP-415),
// used for the group protocols "compatible" and "sessioned": only work that
// moves is stopped, work of a departed worker is held back for a while in
// case it returns, and the load is evened out by revoking from the busiest
// members, a little at a time.
//
// A Cooperative remembers what it assigned in its last round (see Round's
// LastGeneration for when it forgets), the scheduled rebalance that holds
// lost work back, and the back-off between successive revoking rounds. It
// reads no clock and starts nothing: every decision depends on the Round
// alone, so a test replays a cluster's life exactly. It is not safe for
// concurrent use; the leader calls it from its one membership loop.
type Cooperative struct {
	maxDelay int64 // scheduled.rebalance.max.delay.ms

	// previous is what the leader believes the cluster runs after its last
	// round: the next assignment minus its revocations, plus the lost work
	// it holds back. Work in it that no member reports is lost.
	previous units
	// previousRevocation is what the last round revoked. If a member
	// still reports any of it, the revocation did not take effect and
	// previous is rebuilt from what members report.
	previousRevocation units
	// previousGeneration is the generation of the last round, and
	// previousMembers its members.
	previousGeneration int
	previousMembers    map[string]bool

	// scheduled says a delayed rebalance is due at deadline (unix ms);
	// delay is the delay sent to members this round (ms, 0 for none).
	scheduled bool
	deadline  int64
	delay     int64
	// candidates are members seen with nothing to run while lost work was
	// held back, in the order first seen: probably the departed workers
	// back with new member ids. When the delay expires they get the lost
	// work.
	candidates []string

	// revokedInPrevious says the previous round made load-balancing
	// revocations; revokingRounds counts successive ones, which back off
	// exponentially.
	revokedInPrevious bool
	revokingRounds    int
}

// NewCooperative returns an assignor with no memory that holds lost work
// back for at most maxDelay (scheduled.rebalance.max.delay.ms, default 5
// minutes), counted in whole milliseconds. A max delay of 0 reassigns lost
// work at once and never backs off revocations. It fails when maxDelay is
// negative or over what the protocol's int32 milliseconds can carry.
func NewCooperative(maxDelay time.Duration) (*Cooperative, error) {
	ms := maxDelay.Milliseconds()
	if ms < 0 || ms > math.MaxInt32 {
		return nil, fmt.Errorf("scheduled rebalance max delay %v: must be between 0 and %d ms", maxDelay, math.MaxInt32)
	}
	return &Cooperative{
		maxDelay:           ms,
		previous:           newUnits(),
		previousRevocation: newUnits(),
		previousGeneration: -1,
	}, nil
}

// load is one member's work while a round is computed.
type load struct {
	member string
	work   Work
}

// Assign computes one rebalance and returns an Assignment for each member
// of r (none when r has no members, and then nothing is remembered). In
// order, as Kafka Connect does:
//
//  1. If r.LastGeneration is not the generation of the previous round,
//     the previous assignment is forgotten (only it: a scheduled delay,
//     its candidates and the back-off are kept, as in Kafka Connect). If
//     the previous round's revocations did not take effect (a member
//     still reports revoked work), the previous assignment becomes what
//     members report.
//  2. Set differences: deleted = previous - configured; lost = previous -
//     reported - deleted; created = configured - previous - reported;
//     duplicated = reported by more than one member.
//  3. Deleted and duplicated work is revoked from every member reporting
//     it (a duplicated unit is then unassigned, and a later round hands
//     it out as created).
//  4. Lost work: when no member departed since the previous round (an
//     assignment that never arrived), or the max delay is 0, it is
//     reassigned at once. Otherwise the first round sets a delay of the
//     max delay and holds the work back; rounds within the delay send the
//     time left; members with nothing to run become candidates. When the
//     delay has expired, lost work goes round-robin to the candidates
//     still present, or, when there are none, to the least loaded members
//     like created work.
//  5. When no delay is active, load-balancing revocations take from each
//     member what it runs beyond an even share of what is configured
//     (connectors and tasks each on their own; members in id order get
//     the extra units of an uneven split; a member gives up lost work just
//     handed to it first, then its units in the order it reported them).
//     If the previous round also revoked to balance, this one waits
//     instead: the delay becomes 40^n ms (n successive revoking rounds,
//     capped at the max delay), and revoking resumes when it expires.
//  6. Created and reassigned lost work goes to the least loaded members:
//     connectors by connector count, tasks by task count, ties by member
//     id.
//
// Each member is sent only what it did not report running, what it must
// stop, and the delay. A revocation frees work only for a later round: the
// member stops it and rejoins, and that round assigns it.
func (c *Cooperative) Assign(r Round) map[string]Assignment {
	if len(r.Members) == 0 {
		return map[string]Assignment{}
	}
	now := r.Now.UnixMilli()
	if c.previousGeneration != r.LastGeneration {
		// A round since the last one this leader computed went unrecorded
		// here (another leader assigned it, or the SyncGroup failed): what
		// it remembers may be stale.
		c.previous = newUnits()
	}

	configured := configuredWork(r.Connectors)
	configuredSet := unitsOf(configured)
	ids := sortedIDs(r.Members)
	reported := make(map[string]Work, len(ids))
	active := newUnits()
	for _, id := range ids {
		w := dedup(r.Members[id])
		reported[id] = w
		active.add(w)
	}

	if !c.previousRevocation.empty() {
		if c.previousRevocation.intersects(active) {
			c.previous = active.clone()
		}
		c.previousRevocation = newUnits()
	}

	deleted := unitsOf(c.previous.minus(configuredSet))
	duplicated := duplicates(ids, reported)
	lost := c.previous.minus(active, deleted)
	created := configuredSet.minus(c.previous, active)

	// current is what each member keeps running before anything is
	// assigned; what it will run beyond it is its incremental assignment.
	current := make(map[string]units, len(ids))
	revoked := make(map[string]Work, len(ids))
	next := make([]*load, 0, len(ids))
	for _, id := range ids {
		w := reported[id]
		current[id] = unitsOf(without(w, deleted))
		revoked[id] = union(within(w, deleted), within(w, duplicated))
		next = append(next, &load{member: id, work: without(w, unitsOf(revoked[id]))})
	}

	reassign := c.handleLost(lost, next, now)

	if c.delay == 0 {
		balance := balanceRevocations(configured, next)
		switch {
		case c.revokedInPrevious && len(balance) > 0:
			c.revokingRounds++
			c.delay = c.backoff(c.revokingRounds)
			if c.delay != 0 {
				c.scheduled, c.deadline = true, now+c.delay
			} else {
				revokeFrom(next, revoked, balance)
			}
		case len(balance) > 0:
			revokeFrom(next, revoked, balance)
			c.revokedInPrevious = true
		case c.revokedInPrevious:
			// The previous round revoked and this one need not: the load
			// has converged, so the back-off starts over.
			c.revokedInPrevious = false
			c.revokingRounds = 0
		}
	} else {
		c.revokedInPrevious = false
	}

	assignConnectors(next, slices.Concat(created.Connectors, reassign.Connectors))
	assignTasks(next, slices.Concat(created.Tasks, reassign.Tasks))

	allRevoked := newUnits()
	for _, w := range revoked {
		allRevoked.add(w)
	}
	previous := newUnits()
	for _, l := range next {
		previous.add(l.work)
	}
	previous.removeUnits(allRevoked)
	previous.add(lost)
	c.previous = previous
	c.previousRevocation.addUnits(allRevoked)
	c.previousGeneration = r.Generation
	c.previousMembers = make(map[string]bool, len(ids))
	for _, id := range ids {
		c.previousMembers[id] = true
	}

	delay := time.Duration(c.delay) * time.Millisecond
	out := make(map[string]Assignment, len(next))
	for _, l := range next {
		out[l.member] = Assignment{
			Assigned: without(l.work, current[l.member]),
			Revoked:  revoked[l.member],
			Delay:    delay,
			Owned:    without(l.work, unitsOf(revoked[l.member])),
		}
	}
	return out
}

// duplicates returns the units reported by more than one member.
func duplicates(ids []string, reported map[string]Work) units {
	conns := map[string]int{}
	tasks := map[Task]int{}
	for _, id := range ids {
		for _, c := range reported[id].Connectors {
			conns[c]++
		}
		for _, t := range reported[id].Tasks {
			tasks[t]++
		}
	}
	dup := newUnits()
	for c, n := range conns {
		if n > 1 {
			dup.conns[c] = true
		}
	}
	for t, n := range tasks {
		if n > 1 {
			dup.tasks[t] = true
		}
	}
	return dup
}

// revokeFrom adds the revocations to revoked and takes them out of next.
func revokeFrom(next []*load, revoked map[string]Work, revocations map[string]Work) {
	for _, l := range next {
		r, ok := revocations[l.member]
		if !ok {
			continue
		}
		revoked[l.member] = union(revoked[l.member], r)
		l.work = without(l.work, unitsOf(r))
	}
}

// handleLost decides what happens to lost work this round (step 4 of
// Assign) and returns what is to be reassigned like created work. Lost
// work it hands to candidates directly is added to their loads in next.
func (c *Cooperative) handleLost(lost Work, next []*load, now int64) Work {
	if lost.empty() && !c.revokedInPrevious {
		c.resetDelay()
		return Work{}
	}
	present := make(map[string]*load, len(next))
	for _, l := range next {
		present[l.member] = l
	}
	departed := false
	for id := range c.previousMembers {
		if present[id] == nil {
			departed = true
			break
		}
	}
	if !c.scheduled && !departed {
		// Every member of the last round is back, so nobody left: the
		// missing work is probably an assignment some member never
		// received. It is assigned again at once.
		return lost
	}
	if c.maxDelay == 0 {
		return lost
	}

	if c.scheduled && now >= c.deadline {
		// The delay has expired: the lost work's workers did not come back
		// under their old ids.
		var candidates []*load
		for _, id := range c.candidates {
			if l := present[id]; l != nil {
				candidates = append(candidates, l)
			}
		}
		var reassign Work
		if len(candidates) > 0 {
			// Round-robin, connectors and tasks each from the first
			// candidate. A candidate may have been given other work since it
			// was seen idle, and a load-balancing revocation in this same
			// round may take some back: the lost work goes at the front of
			// its list so that what it has not started goes first. (Kafka
			// Connect appends it, and so stops running work to move it.)
			given := make([]Work, len(candidates))
			for i, conn := range lost.Connectors {
				given[i%len(candidates)].Connectors = append(given[i%len(candidates)].Connectors, conn)
			}
			for i, t := range lost.Tasks {
				given[i%len(candidates)].Tasks = append(given[i%len(candidates)].Tasks, t)
			}
			for i, l := range candidates {
				l.work = Work{
					Connectors: slices.Concat(given[i].Connectors, l.work.Connectors),
					Tasks:      slices.Concat(given[i].Tasks, l.work.Tasks),
				}
			}
		} else {
			reassign = lost
		}
		c.resetDelay()
		// The full delay has passed, so revoking rounds may follow each
		// other again.
		c.revokedInPrevious = false
		return reassign
	}

	for _, l := range next {
		if l.work.empty() && !slices.Contains(c.candidates, l.member) {
			c.candidates = append(c.candidates, l.member)
		}
	}
	if c.scheduled && now < c.deadline {
		c.delay = min(c.deadline-now, c.maxDelay)
	} else {
		// First round since a member departed. (A leader that takes over
		// mid-delay starts a full one: it cannot know the old deadline.)
		c.delay = c.maxDelay
	}
	c.scheduled, c.deadline = true, now+c.delay
	return Work{}
}

func (c *Cooperative) resetDelay() {
	c.candidates = nil
	c.scheduled, c.deadline = false, 0
	c.delay = 0
}

// backoff returns the delay before the n-th successive revoking round may
// revoke: 1 ms * 40^n, capped at the max delay (0 when the max delay is
// 0), as Kafka's ExponentialBackoff(1, 40, maxDelay, 0) intends. Kafka
// computes it in floating point, so once capped its value is the max delay
// or, for some max delays (7, 1000, 100000), one millisecond less; this
// computes it exactly and always sends the max delay.
func (c *Cooperative) backoff(n int) int64 {
	d := min(c.maxDelay, 1)
	for range n {
		if d >= c.maxDelay {
			break
		}
		d *= 40
	}
	return min(d, c.maxDelay)
}

// balanceRevocations returns, per member, the connectors and tasks to
// revoke so that no member runs more than an even share of the configured
// ones (step 5 of Assign); nil when nothing need move. next holds no
// deleted or duplicated work any more.
func balanceRevocations(configured Work, next []*load) map[string]Work {
	if configured.empty() {
		// Work a member runs that the leader never knew of is not taken
		// from it yet: the leader remembers it after this round, and the
		// next revokes it as deleted.
		return nil
	}
	conns := excess(len(configured.Connectors), next, func(l *load) []string { return l.work.Connectors })
	tasks := excess(len(configured.Tasks), next, func(l *load) []Task { return l.work.Tasks })
	if len(conns) == 0 && len(tasks) == 0 {
		return nil
	}
	out := make(map[string]Work, len(next))
	for id, cs := range conns {
		w := out[id]
		w.Connectors = cs
		out[id] = w
	}
	for id, ts := range tasks {
		w := out[id]
		w.Tasks = ts
		out[id] = w
	}
	return out
}

// excess returns what to revoke from each member so that of total units
// of one kind, each runs total/len(loads) or, for the first total%len(loads)
// members above that in order, one more. A member gives up the units it
// lists first.
func excess[T any](total int, loads []*load, of func(*load) []T) map[string][]T {
	floor, extras := total/len(loads), total%len(loads)
	out := map[string][]T{}
	given := 0
	for _, l := range loads {
		have := len(of(l))
		if have <= floor {
			continue
		}
		limit := floor
		if given < extras {
			given++
			if have == floor+1 {
				continue
			}
			limit = floor + 1
		}
		out[l.member] = slices.Clone(of(l)[:have-limit])
	}
	return out
}

// assignConnectors hands conns out in order to the members with the
// fewest connectors (ties by member id): one each to every member at the
// lowest count, then again, so counts even out as they fill up. It sorts
// loads.
func assignConnectors(loads []*load, conns []string) {
	fill(loads, conns, func(l *load) *[]string { return &l.work.Connectors })
}

// assignTasks is assignConnectors for tasks, by task count.
func assignTasks(loads []*load, tasks []Task) {
	fill(loads, tasks, func(l *load) *[]Task { return &l.work.Tasks })
}

func fill[T any](loads []*load, units []T, of func(*load) *[]T) {
	if len(units) == 0 || len(loads) == 0 {
		return
	}
	slices.SortFunc(loads, func(a, b *load) int {
		return cmp.Or(cmp.Compare(len(*of(a)), len(*of(b))), strings.Compare(a.member, b.member))
	})
	// loads stays sorted by count: each pass tops up the members at the
	// lowest count (a prefix) by one.
	for i := 0; i < len(units); {
		lowest := len(*of(loads[0]))
		upTo := slices.IndexFunc(loads, func(l *load) bool { return len(*of(l)) > lowest })
		if upTo < 0 {
			upTo = len(loads)
		}
		for _, l := range loads[:upTo] {
			*of(l) = append(*of(l), units[i])
			i++
			if i == len(units) {
				break
			}
		}
	}
}
