package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidSamples(t *testing.T) {
	v := newTestValidator(t)
	for _, s := range validSamples() {
		t.Run(s.name, func(t *testing.T) {
			if err := v.Validate(s.kind, []byte(s.data)); err != nil {
				t.Errorf("Validate: %v", err)
			}
			ev, err := Decode(s.kind, []byte(s.data))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkAgainstReference(t, s.kind, []byte(s.data), ev)
		})
	}
}

func TestInvalidSamples(t *testing.T) {
	v := newTestValidator(t)
	for _, s := range invalidSamples() {
		t.Run(s.name, func(t *testing.T) {
			verr := v.Validate(s.kind, []byte(s.data))
			_, derr := Decode(s.kind, []byte(s.data))
			for _, c := range []struct {
				path string
				err  error
			}{{"Validate", verr}, {"Decode", derr}} {
				var de *DecodeError
				if !errors.As(c.err, &de) {
					t.Errorf("%s: got %v (%T), want a *DecodeError for %s", c.path, c.err, c.err, s.field)
					continue
				}
				if de.Field != s.field {
					t.Errorf("%s: error %q names field %q, want %q", c.path, de.Error(), de.Field, s.field)
				}
				if de.Reason == "" || len(de.Error()) > 200 {
					t.Errorf("%s: unhelpful error %q", c.path, de.Error())
				}
			}
			if testing.Verbose() && verr != nil && derr != nil {
				t.Logf("Validate: %v\nDecode:   %v", verr, derr)
			}
		})
	}
}

// TestAgreement checks, over the whole corpus and systematic mutations of it, that the decoder
// accepts exactly what Validate accepts, and that accepted values are what the JSON says.
func TestAgreement(t *testing.T) {
	v := newTestValidator(t)
	n := 0
	for _, s := range allSamples() {
		// The sample under the other kinds too.
		for _, k := range Kinds() {
			if k != s.kind {
				agree(t, v, k, []byte(s.data))
			}
		}
		for i, data := range mutations([]byte(s.data)) {
			if testing.Short() && i%10 != 0 {
				continue
			}
			n++
			agree(t, v, s.kind, data)
		}
	}
	t.Logf("%d inputs", n)
}

// mutations returns data and simple variants of it: truncations, single-byte edits around
// interesting characters, and the number and string variants the schemas care about.
func mutations(data []byte) [][]byte {
	out := [][]byte{data}
	if len(data) > 400 {
		return out
	}
	for i := 0; i <= len(data); i += 7 {
		out = append(out, data[:i])
	}
	for i, c := range data {
		switch c {
		case '"', ':', ',', '{', '}', '[', ']', '.', 'e', '-', 'T', 'Z', '0', '1', '5', '9', '_':
			for _, r := range []byte{' ', '"', '\\', '0', '9', 'x', '.', 'e', '-', '+', 'E', 'z', 't', 0, 0xff} {
				if r == c {
					continue
				}
				m := bytes.Clone(data)
				m[i] = r
				out = append(out, m)
			}
			del := append(bytes.Clone(data[:i]), data[i+1:]...)
			out = append(out, del)
		}
	}
	return out
}

func agree(t *testing.T, v *Validator, k Kind, data []byte) {
	t.Helper()
	verr := v.Validate(k, data)
	ev, derr := Decode(k, data)
	if (verr == nil) != (derr == nil) {
		t.Fatalf("disagreement on %s %q:\nValidate: %v\nDecode:   %v", k, data, verr, derr)
	}
	if derr == nil {
		checkAgainstReference(t, k, data, ev)
	} else if ev != nil {
		t.Fatalf("Decode returned an event with an error")
	}
}

// checkAgainstReference checks a decoded event field by field against the input parsed by
// encoding/json (with json.Number): what the JSON and the schema say the values are.
func checkAgainstReference(t *testing.T, k Kind, data []byte, ev Event) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("reference parse of accepted input %q: %v", data, err)
	}
	str := func(key string) string { s, _ := m[key].(string); return s }
	integer := func(key string) int64 {
		n, ok := m[key].(json.Number)
		if !ok {
			return 0
		}
		r, ok := new(big.Rat).SetString(string(n))
		if !ok || !r.IsInt() || !r.Num().IsInt64() {
			t.Fatalf("%s: %q is not an integer", key, n)
		}
		return r.Num().Int64()
	}
	strs := func(key string) []string {
		a, ok := m[key].([]any)
		if !ok {
			return nil
		}
		out := []string{}
		for _, x := range a {
			out = append(out, x.(string))
		}
		return out
	}
	wantTime := referenceTime(t, str("timestamp"))
	if !ev.EventTime().Equal(wantTime) || ev.EventTime().Location() != time.UTC {
		t.Fatalf("timestamp %q decoded as %v, want %v", str("timestamp"), ev.EventTime(), wantTime)
	}
	if ev.EventChannel() != str("channel") || ev.EventKind() != k {
		t.Fatalf("channel/kind mismatch: %q %s", ev.EventChannel(), ev.EventKind())
	}
	var got, want any
	switch e := ev.(type) {
	case ChatMessage:
		w := ChatMessage{
			MessageID: str("message_id"), Channel: str("channel"), Username: str("username"),
			Message: str("message"), Emotes: strs("emotes"), SentimentHint: Sentiment(str("sentiment_hint")),
			Timestamp: e.Timestamp, UserID: str("user_id"), Color: str("color"),
		}
		if b := strs("badges"); b != nil {
			w.Badges = []Badge{}
			for _, x := range b {
				w.Badges = append(w.Badges, Badge(x))
			}
		}
		got, want = e, w
	case ViewerCount:
		got, want = e, ViewerCount{
			EventID: str("event_id"), Channel: str("channel"), ViewerCount: integer("viewer_count"),
			ChatterCount: integer("chatter_count"), Timestamp: e.Timestamp,
		}
	case Transaction:
		lit := string(m["amount"].(json.Number))
		amount, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			t.Fatalf("amount %q: %v", lit, err)
		}
		r, _ := new(big.Rat).SetString(lit)
		r.Mul(r, big.NewRat(100, 1))
		if !r.IsInt() || e.AmountCents() != r.Num().Int64() {
			t.Fatalf("amount %q: AmountCents %d, want %v", lit, e.AmountCents(), r)
		}
		if e.Amount != amount && !(amount == 0 && e.Amount == 0) {
			t.Fatalf("amount %q decoded as %v, want %v", lit, e.Amount, amount)
		}
		if math.Signbit(e.Amount) {
			t.Fatalf("amount %q decoded as negative zero", lit)
		}
		cur := str("currency")
		if cur == "" {
			cur = DefaultCurrency
		}
		got, want = e, Transaction{
			TransactionID: str("transaction_id"), Channel: str("channel"),
			TransactionType: TransactionType(str("transaction_type")), Amount: e.Amount, Timestamp: e.Timestamp,
			Username: str("username"), Currency: cur, Tier: int(integer("tier")), Bits: integer("bits"),
			GiftCount: int(integer("gift_count")), Message: str("message"),
		}
	case StreamMeta:
		got, want = e, StreamMeta{
			EventID: str("event_id"), Channel: str("channel"), EventType: StreamEventType(str("event_type")),
			Title: str("title"), Timestamp: e.Timestamp, Category: str("category"), RaidFrom: str("raid_from"),
			RaidViewers: integer("raid_viewers"),
		}
	default:
		t.Fatalf("unexpected event type %T", ev)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %q as\n%#v\nwant\n%#v", data, got, want)
	}
	// Where encoding/json can decode the input into the struct itself (plain integers, upper
	// case T and Z, no leap second, no case-folded duplicate keys), it must agree too.
	if plain(data, reflect.TypeOf(ev)) {
		ptr := reflect.New(reflect.TypeOf(ev))
		if err := json.Unmarshal(data, ptr.Interface()); err == nil {
			std := ptr.Elem().Interface()
			if tx, ok := std.(Transaction); ok && tx.Currency == "" {
				tx.Currency = DefaultCurrency
				std = tx
			}
			if c, ok := std.(ChatMessage); ok && c.Badges == nil && got.(ChatMessage).Badges != nil {
				c.Badges = []Badge{}
				std = c
			}
			if !reflect.DeepEqual(normalize(std), normalize(got)) {
				t.Fatalf("encoding/json decodes %q as\n%#v\nwe decode\n%#v", data, std, got)
			}
		}
	}
}

// plain reports whether encoding/json's case-insensitive key matching cannot interfere: no
// key is a case variant of one of the struct's json names.
func plain(data []byte, typ reflect.Type) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		for k := range m {
			if k != name && strings.EqualFold(k, name) {
				return false
			}
		}
	}
	return true
}

// normalize makes times comparable with DeepEqual.
func normalize(ev any) any {
	switch e := ev.(type) {
	case ChatMessage:
		e.Timestamp = e.Timestamp.UTC()
		return e
	case ViewerCount:
		e.Timestamp = e.Timestamp.UTC()
		return e
	case Transaction:
		e.Timestamp = e.Timestamp.UTC()
		return e
	case StreamMeta:
		e.Timestamp = e.Timestamp.UTC()
		return e
	}
	return ev
}

// referenceTime parses an accepted timestamp with the time package: RFC 3339 after upper-casing
// T and Z; a leap second is parsed as :59 plus one second.
func referenceTime(t *testing.T, s string) time.Time {
	t.Helper()
	b := []byte(s)
	b[10] = 'T'
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	leap := string(b[17:19]) == "60"
	if leap {
		b[17], b[18] = '5', '9'
	}
	tm, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		t.Fatalf("reference parse of timestamp %q: %v", s, err)
	}
	if leap {
		tm = tm.Add(time.Second)
	}
	return tm.UTC()
}
