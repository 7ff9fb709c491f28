package ranking

import "sync"

// Slot holds the latest value put in it, for one reader: a writer never waits, and a reader
// slower than the writer gets the newest value only, the ones in between replaced (the
// latest-value policy of a ranking subscription, which must never queue).
type Slot[T any] struct {
	mu       sync.Mutex
	value    T
	full     bool
	ready    chan struct{} // has a token while full
	replaced uint64
}

// NewSlot returns an empty slot.
func NewSlot[T any]() *Slot[T] { return &Slot[T]{ready: make(chan struct{}, 1)} }

// Put replaces the slot's value.
func (s *Slot[T]) Put(v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full {
		s.replaced++
	}
	s.value, s.full = v, true
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Ready has a token while the slot holds a value: wait on it, then Take.
func (s *Slot[T]) Ready() <-chan struct{} { return s.ready }

// Take empties the slot; false if it was empty.
func (s *Slot[T]) Take() (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.value, s.full
	var zero T
	s.value, s.full = zero, false
	return v, ok
}

// Replaced is how many values were replaced before being taken.
func (s *Slot[T]) Replaced() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replaced
}
