package producer

// indexSet is a set of small ints with O(1) add, remove and uniform random pick: the live and
// offline channel sets of the simulation.
type indexSet struct {
	items []int
	pos   []int // pos[i] is the index of i in items, or -1
}

func newIndexSet(n int) *indexSet {
	s := &indexSet{pos: make([]int, n)}
	for i := range s.pos {
		s.pos[i] = -1
	}
	return s
}

func (s *indexSet) len() int { return len(s.items) }

func (s *indexSet) has(i int) bool { return s.pos[i] >= 0 }

func (s *indexSet) add(i int) {
	if s.has(i) {
		return
	}
	s.pos[i] = len(s.items)
	s.items = append(s.items, i)
}

func (s *indexSet) remove(i int) {
	p := s.pos[i]
	if p < 0 {
		return
	}
	last := s.items[len(s.items)-1]
	s.items[p] = last
	s.pos[last] = p
	s.items = s.items[:len(s.items)-1]
	s.pos[i] = -1
}

// fenwick is a binary indexed tree of non-negative weights: O(log n) update and weighted pick,
// so busy channels get more chat even with 100k channels.
type fenwick struct {
	tree    []int64
	weights []int64
	total   int64
}

func newFenwick(n int) *fenwick {
	return &fenwick{tree: make([]int64, n+1), weights: make([]int64, n)}
}

func (f *fenwick) set(i int, w int64) {
	d := w - f.weights[i]
	if d == 0 {
		return
	}
	f.weights[i] = w
	f.total += d
	for j := i + 1; j < len(f.tree); j += j & -j {
		f.tree[j] += d
	}
}

// pick returns the index whose cumulative weight range contains u, for u in [0, total).
func (f *fenwick) pick(u int64) int {
	pos := 0
	step := 1
	for step*2 < len(f.tree) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if next := pos + step; next < len(f.tree) && f.tree[next] <= u {
			pos = next
			u -= f.tree[next]
		}
	}
	return pos // tree index pos+1 holds the item, i.e. item index pos
}
