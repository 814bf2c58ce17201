package assign

// Eager assigns every configured connector and task from scratch, as Kafka
// Connect's EagerAssignor does for connect.protocol=eager (group protocol
// "default"): each member stopped all its work before it joined, so
// nothing is revoked and nothing is kept. Connectors in name order go
// round-robin over the members in id order; the tasks follow, connector
// by connector in ID order, continuing the same round-robin where the
// connectors left off. Assigning all connectors first keeps several
// one-task connectors from piling their tasks onto the same members.
//
// Eager reads only r.Connectors and the keys of r.Members; it returns one
// Assignment per member (none when there are no members) and keeps no
// state.
func Eager(r Round) map[string]Assignment {
	ids := sortedIDs(r.Members)
	out := make(map[string]Assignment, len(ids))
	if len(ids) == 0 {
		return out
	}
	work := make([]Work, len(ids))
	configured := configuredWork(r.Connectors)
	next := 0 // the round-robin position, shared by connectors and tasks
	for _, c := range configured.Connectors {
		work[next].Connectors = append(work[next].Connectors, c)
		next = (next + 1) % len(ids)
	}
	for _, t := range configured.Tasks {
		work[next].Tasks = append(work[next].Tasks, t)
		next = (next + 1) % len(ids)
	}
	for i, id := range ids {
		out[id] = Assignment{Assigned: work[i], Owned: work[i].clone()}
	}
	return out
}
