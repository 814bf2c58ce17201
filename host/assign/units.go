package assign

import "slices"

// units is a set of connectors and tasks, for the set arithmetic of the
// cooperative assignor where only membership matters.
type units struct {
	conns map[string]bool
	tasks map[Task]bool
}

func newUnits() units {
	return units{conns: map[string]bool{}, tasks: map[Task]bool{}}
}

// unitsOf returns the set of everything in ws.
func unitsOf(ws ...Work) units {
	u := newUnits()
	for _, w := range ws {
		u.add(w)
	}
	return u
}

func (u units) add(w Work) {
	for _, c := range w.Connectors {
		u.conns[c] = true
	}
	for _, t := range w.Tasks {
		u.tasks[t] = true
	}
}

func (u units) addUnits(v units) {
	for c := range v.conns {
		u.conns[c] = true
	}
	for t := range v.tasks {
		u.tasks[t] = true
	}
}

func (u units) removeUnits(v units) {
	for c := range v.conns {
		delete(u.conns, c)
	}
	for t := range v.tasks {
		delete(u.tasks, t)
	}
}

func (u units) empty() bool { return len(u.conns) == 0 && len(u.tasks) == 0 }

// intersects reports whether u and v share a unit.
func (u units) intersects(v units) bool {
	for c := range v.conns {
		if u.conns[c] {
			return true
		}
	}
	for t := range v.tasks {
		if u.tasks[t] {
			return true
		}
	}
	return false
}

func (u units) clone() units {
	v := newUnits()
	v.addUnits(u)
	return v
}

// minus returns the units of u that are in none of subs, each list sorted
// (Kafka Connect computes these differences into sorted sets, so created
// and lost work is handed out in name order).
func (u units) minus(subs ...units) Work {
	var w Work
	for c := range u.conns {
		if !slices.ContainsFunc(subs, func(s units) bool { return s.conns[c] }) {
			w.Connectors = append(w.Connectors, c)
		}
	}
	for t := range u.tasks {
		if !slices.ContainsFunc(subs, func(s units) bool { return s.tasks[t] }) {
			w.Tasks = append(w.Tasks, t)
		}
	}
	slices.Sort(w.Connectors)
	slices.SortFunc(w.Tasks, compareTasks)
	return w
}

// without returns the units of w that are not in drop, in w's order.
func without(w Work, drop units) Work {
	return Work{
		Connectors: filter(w.Connectors, func(c string) bool { return !drop.conns[c] }),
		Tasks:      filter(w.Tasks, func(t Task) bool { return !drop.tasks[t] }),
	}
}

// within returns the units of w that are in keep, in w's order.
func within(w Work, keep units) Work {
	return Work{
		Connectors: filter(w.Connectors, func(c string) bool { return keep.conns[c] }),
		Tasks:      filter(w.Tasks, func(t Task) bool { return keep.tasks[t] }),
	}
}

// union returns a's units, then those of b not in a.
func union(a, b Work) Work {
	return Work{
		Connectors: appendNew(slices.Clone(a.Connectors), b.Connectors),
		Tasks:      appendNew(slices.Clone(a.Tasks), b.Tasks),
	}
}

// dedup returns w with every repeat of a unit dropped, first
// occurrences in order.
func dedup(w Work) Work {
	return Work{
		Connectors: appendNew(nil, w.Connectors),
		Tasks:      appendNew(nil, w.Tasks),
	}
}

// filter returns the elements of s for which keep holds, in a new slice
// (nil when none).
func filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// appendNew appends the elements of add not already in dst (or earlier
// in add), as an insertion-ordered set would.
func appendNew[T comparable](dst, add []T) []T {
	seen := make(map[T]bool, len(dst)+len(add))
	for _, v := range dst {
		seen[v] = true
	}
	for _, v := range add {
		if !seen[v] {
			seen[v] = true
			dst = append(dst, v)
		}
	}
	return dst
}
