package producer

import (
	"testing"
	"time"

	"github.com/telemetra/telemetra/schemas"
)

// TestEveryEventMatchesItsSchema checks a large sample of each event type against the JSON
// Schema (the slow, authoritative validator) and the fast decoder the processors use.
func TestEveryEventMatchesItsSchema(t *testing.T) {
	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	n := 120_000
	if testing.Short() {
		n = 20_000
	}
	recs := generate(t, Config{Channels: GeneratedChannels(30), Seed: 2024, Jitter: 2 * time.Second,
		MinStreamDuration: time.Minute, MinOfflineDuration: 10 * time.Second}, n, 20*time.Millisecond)
	perKind := map[schemas.Kind]int{}
	for k, r := range recs {
		kind, ok := schemas.KindForTopic(r.Topic)
		if !ok {
			t.Fatalf("event %d: no schema for topic %s", k, r.Topic)
		}
		if err := validator.Validate(kind, r.Value); err != nil {
			t.Fatalf("event %d (%s) does not validate: %v\n%s", k, kind, err, r.Value)
		}
		ev, err := schemas.Decode(kind, r.Value)
		if err != nil {
			t.Fatalf("event %d (%s) does not decode: %v\n%s", k, kind, err, r.Value)
		}
		if ev.EventChannel() != string(r.Key) {
			t.Fatalf("event %d: decoded channel %q, key %q", k, ev.EventChannel(), r.Key)
		}
		if d := r.Time.Sub(ev.EventTime()); d < 0 || d > 2*time.Second {
			t.Fatalf("event %d: timestamp %s is %s before its generation time %s", k, ev.EventTime(), d, r.Time)
		}
		perKind[kind]++
	}
	for _, kind := range schemas.Kinds() {
		if perKind[kind] < n/100 {
			t.Errorf("only %d %s events in the sample", perKind[kind], kind)
		}
	}
}
