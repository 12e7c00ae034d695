package graph

// Cycle returns the internal topics of a cycle among the sub-topologies, in the order the
// cycle passes them (short names), or nil when there is none: a sub-topology that writes
// a topic read by one that, through other topics, writes a topic it reads itself — a
// foreign-key join's subscription and response topics, or one sub-topology reading a
// topic it writes. A bounded run cannot end such a cycle: a task ends when its upstream
// tasks have ended, and in a cycle each waits for the other.
func (g *Graph) Cycle() []string {
	subs, err := g.Subtopologies()
	if err != nil {
		return nil
	}
	out := make([][]*Repartition, len(subs)) // the topics each sub-topology writes
	for _, r := range g.repartitions {
		w := r.Writer.sub
		out[w] = append(out[w], r)
	}
	// Depth-first, in id order so the answer is stable; path holds the topics from the
	// start of the current descent, onPath where each sub-topology on it entered.
	const (
		unseen = iota
		active
		done
	)
	state := make([]int, len(subs))
	onPath := make([]int, len(subs))
	var path []*Repartition
	var found []string
	var visit func(s int) bool
	visit = func(s int) bool {
		state[s], onPath[s] = active, len(path)
		for _, r := range out[s] {
			next := r.Reader.sub
			path = append(path, r)
			switch state[next] {
			case active:
				for _, c := range path[onPath[next]:] {
					found = append(found, c.Name)
				}
				return true
			case unseen:
				if visit(next) {
					return true
				}
			}
			path = path[:len(path)-1]
		}
		state[s] = done
		return false
	}
	for s := range subs {
		if state[s] == unseen && visit(s) {
			return found
		}
	}
	return nil
}
