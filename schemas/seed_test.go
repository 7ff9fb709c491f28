package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// The four example messages of the spec (seeds/000_fbebf384b762a325.txt, "Message Flow"),
// verbatim.
const (
	seedChat = `{
  "message_id": "123e4567-e89b-12d3-a456-426614174000",
  "channel": "demo_stream",
  "username": "gamer123",
  "message": "That was insane! PogChamp",
  "emotes": ["PogChamp"],
  "sentiment_hint": "excited",
  "timestamp": "2025-10-16T10:30:00Z"
}`
	seedViewer = `{
  "event_id": "123e4567-e89b-12d3-a456-426614174000",
  "channel": "demo_stream",
  "viewer_count": 1234,
  "chatter_count": 123,
  "timestamp": "2025-10-16T10:30:00Z"
}`
	seedTransaction = `{
  "transaction_id": "txn_a1b2c3d4e5f6g7h8",
  "channel": "demo_stream",
  "transaction_type": "donation",
  "amount": 50.00,
  "timestamp": "2025-10-16T10:30:00Z"
}`
	seedStreamMeta = `{
  "event_id": "123e4567-e89b-12d3-a456-426614174000",
  "channel": "demo_stream",
  "event_type": "stream_start",
  "title": "Chill vibes and good times",
  "timestamp": "2025-10-16T10:00:00Z"
}`
)

func newTestValidator(tb testing.TB) *Validator {
	tb.Helper()
	v, err := NewValidator()
	if err != nil {
		tb.Fatalf("NewValidator: %v", err)
	}
	return v
}

func TestSeedExamples(t *testing.T) {
	v := newTestValidator(t)
	ts := time.Date(2025, 10, 16, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		kind Kind
		data string
		want Event
	}{
		{KindChat, seedChat, ChatMessage{
			MessageID: "123e4567-e89b-12d3-a456-426614174000", Channel: "demo_stream", Username: "gamer123",
			Message: "That was insane! PogChamp", Emotes: []string{"PogChamp"}, SentimentHint: SentimentExcited,
			Timestamp: ts,
		}},
		{KindViewer, seedViewer, ViewerCount{
			EventID: "123e4567-e89b-12d3-a456-426614174000", Channel: "demo_stream", ViewerCount: 1234,
			ChatterCount: 123, Timestamp: ts,
		}},
		{KindTransaction, seedTransaction, Transaction{
			TransactionID: "txn_a1b2c3d4e5f6g7h8", Channel: "demo_stream", TransactionType: TransactionDonation,
			Amount: 50, Timestamp: ts, Currency: "USD",
		}},
		{KindStreamMeta, seedStreamMeta, StreamMeta{
			EventID: "123e4567-e89b-12d3-a456-426614174000", Channel: "demo_stream", EventType: StreamStart,
			Title: "Chill vibes and good times", Timestamp: time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC),
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			if err := v.Validate(tt.kind, []byte(tt.data)); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got, err := Decode(tt.kind, []byte(tt.data))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decode =\n%#v\nwant\n%#v", got, tt.want)
			}
			if got.EventKind() != tt.kind || got.EventChannel() != "demo_stream" || got.EventTime().Location() != time.UTC {
				t.Fatalf("Event methods: kind %s channel %s time %v", got.EventKind(), got.EventChannel(), got.EventTime())
			}
			// Re-encoding a decoded event with encoding/json yields a valid event again.
			out, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(tt.kind, out); err != nil {
				t.Fatalf("re-encoded %s: %v", out, err)
			}
			again, err := Decode(tt.kind, out)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip: %v\n%#v\n%#v", err, again, got)
			}
		})
	}
	tx, _ := DecodeTransaction([]byte(seedTransaction))
	if tx.AmountCents() != 5000 {
		t.Fatalf("AmountCents = %d, want 5000", tx.AmountCents())
	}
}

// TestSchemaExamples checks that every entry of each schema's "examples" validates and decodes.
func TestSchemaExamples(t *testing.T) {
	v := newTestValidator(t)
	for _, k := range Kinds() {
		var doc struct {
			Schema      string            `json:"$schema"`
			ID          string            `json:"$id"`
			Title       string            `json:"title"`
			Description string            `json:"description"`
			Examples    []json.RawMessage `json:"examples"`
		}
		if err := json.Unmarshal(Schema(k), &doc); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if doc.Schema != "http://json-schema.org/draft-07/schema#" || doc.ID == "" || doc.Title == "" || doc.Description == "" {
			t.Errorf("%s: missing $schema, $id, title or description", k)
		}
		if len(doc.Examples) < 2 {
			t.Errorf("%s: want at least 2 examples, got %d", k, len(doc.Examples))
		}
		for i, ex := range doc.Examples {
			if err := v.Validate(k, ex); err != nil {
				t.Errorf("%s example %d: Validate: %v", k, i, err)
			}
			if _, err := Decode(k, ex); err != nil {
				t.Errorf("%s example %d: Decode: %v", k, i, err)
			}
		}
		// The first example is the seed's.
		var a, b any
		seed := map[Kind]string{KindChat: seedChat, KindViewer: seedViewer, KindTransaction: seedTransaction, KindStreamMeta: seedStreamMeta}[k]
		_ = json.Unmarshal(doc.Examples[0], &a)
		_ = json.Unmarshal([]byte(seed), &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: first example is not the seed's", k)
		}
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		if !k.Valid() {
			t.Errorf("%s not valid", k)
		}
		got, ok := KindForTopic(k.Topic())
		if !ok || got != k {
			t.Errorf("KindForTopic(%q) = %v, %v", k.Topic(), got, ok)
		}
		for _, name := range []string{string(k), k.SchemaFile(), "schemas/" + k.SchemaFile(), k.Topic(), " " + string(k) + " "} {
			if got, err := ParseKind(name); err != nil || got != k {
				t.Errorf("ParseKind(%q) = %v, %v", name, got, err)
			}
		}
		if !bytes.Contains(Schema(k), []byte(`"$id"`)) {
			t.Errorf("Schema(%s) is not a schema", k)
		}
	}
	wantTopics := map[Kind]string{
		KindChat:        "telemetra.events.chat",
		KindViewer:      "telemetra.events.viewer",
		KindTransaction: "telemetra.events.transactions",
		KindStreamMeta:  "telemetra.events.stream_meta",
	}
	for k, topic := range wantTopics {
		if k.Topic() != topic {
			t.Errorf("%s.Topic() = %q, want %q", k, k.Topic(), topic)
		}
	}
	for name, want := range map[string]Kind{
		"chat_message": KindChat, "viewer_count": KindViewer, "transactions": KindTransaction,
		"stream_meta.json": KindStreamMeta, "CHAT": KindChat, "viewer_count.json": KindViewer,
	} {
		if got, err := ParseKind(name); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, bad := range []string{"", "chats_x", "telemetra.events.unknown", "json"} {
		if _, err := ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) succeeded", bad)
		}
	}
	if _, ok := KindForTopic("telemetra.dlq"); ok {
		t.Error("KindForTopic(telemetra.dlq) succeeded")
	}
	if Schema("nope") != nil || Kind("nope").Topic() != "" {
		t.Error("unknown kind has a schema or topic")
	}
	// Schema returns a copy.
	s := Schema(KindChat)
	s[0] = 'X'
	if Schema(KindChat)[0] == 'X' {
		t.Error("Schema returned shared bytes")
	}
	v := newTestValidator(t)
	if err := v.Validate("nope", []byte(seedChat)); err == nil {
		t.Error("Validate of an unknown kind succeeded")
	}
	if _, err := Decode("nope", []byte(seedChat)); err == nil {
		t.Error("Decode of an unknown kind succeeded")
	}
	var de *DecodeError
	if err := v.Validate(KindChat, []byte(`[]`)); !errors.As(err, &de) {
		t.Errorf("Validate error %T is not a *DecodeError", err)
	}
}
