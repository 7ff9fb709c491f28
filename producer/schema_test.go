package producer

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/telemetra/telemetra/schemas"
)

// TestEveryEventMatchesItsSchema checks a large sample of each event type against the JSON
// Schema (the slow, authoritative validator) and the fast decoder the processors use, and
// checks that the hand-written encoders write what encoding/json makes of the same schemas
// type: the event decodes to a value that encodes back to the same bytes, and that value
// through encoding/json decodes to the same value again.
func TestEveryEventMatchesItsSchema(t *testing.T) {
	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	n := 120_000
	if testing.Short() {
		n = 20_000
	}
	// short streams, for many lifecycle events
	recs := generate(t, Config{Channels: GeneratedChannels(30), Seed: 2024, Jitter: 2 * time.Second,
		MinStreamDuration: time.Minute, MinOfflineDuration: 10 * time.Second, MeanStream: 3 * time.Minute, MeanOffline: time.Minute},
		n, 20*time.Millisecond)
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
		if again := encode(t, ev); !bytes.Equal(again, r.Value) {
			t.Fatalf("event %d (%s) decodes to a value that encodes differently:\n%s\n%s", k, kind, r.Value, again)
		}
		std, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		viaStd, err := schemas.Decode(kind, std)
		if err != nil {
			t.Fatalf("event %d (%s) through encoding/json does not decode: %v\n%s", k, kind, err, std)
		}
		if !reflect.DeepEqual(viaStd, ev) {
			t.Fatalf("event %d (%s): encoding/json writes\n%s\nthe producer\n%s", k, kind, std, r.Value)
		}
		perKind[kind]++
	}
	for _, kind := range schemas.Kinds() {
		// transactions come at the audience's pace (docs/producer.md), not as a share of events
		if perKind[kind] < n/4000 {
			t.Errorf("only %d %s events in the sample", perKind[kind], kind)
		}
	}
}

// encode writes a decoded event with the producer's encoder for its type.
func encode(t *testing.T, ev schemas.Event) []byte {
	t.Helper()
	switch e := ev.(type) {
	case schemas.ChatMessage:
		return appendChat(nil, e)
	case schemas.ViewerCount:
		return appendViewer(nil, e)
	case schemas.Transaction:
		return appendTransaction(nil, e)
	case schemas.StreamMeta:
		return appendStreamMeta(nil, e)
	}
	t.Fatalf("no encoder for %T", ev)
	return nil
}

// TestEncodersWriteEveryField encodes values with every optional field set, including those
// the simulation never fills in, so that no field of a schemas type is dropped on the way out.
func TestEncodersWriteEveryField(t *testing.T) {
	at := time.Date(2025, 10, 16, 10, 30, 0, 250_000_000, time.UTC)
	for _, ev := range []schemas.Event{
		schemas.ChatMessage{
			MessageID: "9b2f1c4e-8d3a-4f6b-a1c2-3d4e5f6a7b8c", Channel: "gaming", Username: "NightOwl_42",
			Message: `say "hi" \ ✓`, Emotes: []string{}, SentimentHint: schemas.SentimentQuestion, Timestamp: at,
			UserID: "48151623", Badges: []schemas.Badge{schemas.BadgeFounder, schemas.BadgeVIP}, Color: "#1E90FF",
		},
		schemas.ViewerCount{EventID: "0f8fad5b-d9cb-469f-a165-70867728950e", Channel: "gaming", Timestamp: at},
		schemas.Transaction{
			TransactionID: "txn_9f8e7d6c5b4a3210", Channel: "gaming", TransactionType: schemas.TransactionGiftSub,
			Amount: 24.95, Timestamp: at, Username: "generous_viewer", Currency: "EUR", Tier: 1, GiftCount: 5,
			Message: "for the chat",
		},
		schemas.Transaction{
			TransactionID: "txn_0a1b2c3d4e5f6a7b", Channel: "gaming", TransactionType: schemas.TransactionBits,
			Amount: 1, Timestamp: at, Currency: schemas.DefaultCurrency, Bits: 100,
		},
		schemas.StreamMeta{
			EventID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", Channel: "gaming", EventType: schemas.RaidIncoming,
			Title: "", Timestamp: at, Category: "Just Chatting", RaidFrom: "demo_stream", RaidViewers: 250,
		},
	} {
		data := encode(t, ev)
		got, err := schemas.Decode(ev.EventKind(), data)
		if err != nil {
			t.Fatalf("%s does not decode: %v\n%s", ev.EventKind(), err, data)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("%s: encoded\n%+v\nas\n%s\nwhich decodes to\n%+v", ev.EventKind(), ev, data, got)
		}
	}
}
