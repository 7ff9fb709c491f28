package schemas

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHostileInputsAreCheap checks that large hostile inputs take time linear in their size on
// both paths (no quadratic duplicate checks, no huge big-number arithmetic).
func TestHostileInputsAreCheap(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	v := newTestValidator(t)
	var many strings.Builder
	many.WriteString(`{`)
	for i := range 50000 {
		fmt.Fprintf(&many, `"k%d":1,`, i)
	}
	inputs := map[string]string{
		"many unknown keys":      strings.TrimSuffix(many.String(), ",") + `,"k7":2}`,
		"many big exponents":     mod(seedViewer, "x", "["+strings.Repeat("1e1000,", 20000)+"1]"),
		"big exponent in amount": mod(seedTransaction, "amount", "1e-1000"),
		"long message":           mod(seedChat, "message", q(strings.Repeat("é", 1<<20))),
		"deep nesting":           strings.Repeat("[", 100000),
	}
	for name, in := range inputs {
		for _, k := range Kinds() {
			start := time.Now()
			verr := v.Validate(k, []byte(in))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Validate %s %s took %v", k, name, d)
			}
			start = time.Now()
			_, derr := Decode(k, []byte(in))
			if d := time.Since(start); d > time.Second {
				t.Errorf("Decode %s %s took %v", k, name, d)
			}
			if (verr == nil) != (derr == nil) {
				t.Errorf("%s %s: Validate %v, Decode %v", k, name, verr, derr)
			}
		}
	}
}

// TestConcurrentUse shares one Validator between goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	v := newTestValidator(t)
	samples := allSamples()
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := g; i < len(samples); i += 4 {
				s := samples[i]
				verr := v.Validate(s.kind, []byte(s.data))
				_, derr := Decode(s.kind, []byte(s.data))
				if (verr == nil) != (derr == nil) {
					t.Errorf("%s: Validate %v, Decode %v", s.name, verr, derr)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
