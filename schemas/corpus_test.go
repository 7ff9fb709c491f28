package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

// mod returns base (a JSON object) with members replaced, added or (for raw "") removed.
// edits are key, raw JSON value pairs. The result has its keys sorted.
func mod(base string, edits ...string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		panic(err)
	}
	for i := 0; i < len(edits); i += 2 {
		if edits[i+1] == "" {
			delete(m, edits[i])
		} else {
			m[edits[i]] = json.RawMessage(edits[i+1])
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// rawMember returns the raw JSON value of member key of the object base.
func rawMember(base, key string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		panic(err)
	}
	return string(m[key])
}

func q(s string) string { b, _ := json.Marshal(s); return string(b) }

func seedOf(k Kind) string {
	switch k {
	case KindChat:
		return seedChat
	case KindViewer:
		return seedViewer
	case KindTransaction:
		return seedTransaction
	default:
		return seedStreamMeta
	}
}

type sample struct {
	name  string
	kind  Kind
	data  string
	field string // for invalid samples: the JSON pointer both paths must name
}

// validSamples are accepted by both paths.
func validSamples() []sample {
	c, v, t, s := seedChat, seedViewer, seedTransaction, seedStreamMeta
	deep := strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1)
	return []sample{
		{"chat/seed", KindChat, c, ""},
		{"chat/compact", KindChat, mod(c), ""},
		{"chat/optional fields", KindChat, mod(c, "user_id", `"48151623"`, "badges", `["subscriber","vip","moderator","broadcaster","founder","partner"]`, "color", `"#1e90FF"`), ""},
		{"chat/empty emotes and badges", KindChat, mod(c, "emotes", `[]`, "badges", `[]`), ""},
		{"chat/100 emotes", KindChat, mod(c, "emotes", "["+strings.Repeat(`"Kappa",`, 99)+`"LUL"]`), ""},
		{"chat/long message code points", KindChat, mod(c, "message", q(strings.Repeat("é", 500))), ""},
		{"chat/long message 4-byte", KindChat, mod(c, "message", q(strings.Repeat("😀", 500))), ""},
		{"chat/escaped key", KindChat, strings.Replace(c, `"channel"`, `"chann\u0065l"`, 1), ""},
		{"chat/escaped values", KindChat, strings.Replace(strings.Replace(c, `"demo_stream"`, `"demo\u005fstream"`, 1), `"PogChamp"]`, `"Pog\/Champ\n"]`, 1), ""},
		{"chat/surrogate pair", KindChat, mod(c, "message", `"\ud83d\ude00 \uD83D\uDE00"`), ""},
		{"chat/lone surrogates", KindChat, mod(c, "message", `"\ud800 \udc00 \ud800\u0041 \udc00\ud800"`), ""},
		{"chat/unknown fields", KindChat, mod(c, "Channel", `"Whatever"`, "extra", `{"a":[1,2.5e10,{"b":null}],"a":true}`, "deep", deep, "x", `-0.0e-0`), ""},
		{"chat/whitespace", KindChat, " \t\r\n" + c + " \n\t\r", ""},
		{"chat/lowercase t z", KindChat, mod(c, "timestamp", `"2025-10-16t10:30:00z"`), ""},
		{"chat/offset and nanos", KindChat, mod(c, "timestamp", `"2025-10-16T12:30:00.123456789+02:00"`), ""},
		{"chat/leap second", KindChat, mod(c, "timestamp", `"2016-12-31T23:59:60Z"`), ""},
		{"chat/leap second offset", KindChat, mod(c, "timestamp", `"2016-12-31T18:59:60.5-05:00"`), ""},
		{"chat/leap second wrap", KindChat, mod(c, "timestamp", `"2017-01-01T00:59:60+01:00"`), ""},
		{"chat/year 0", KindChat, mod(c, "timestamp", `"0000-02-29T00:00:00Z"`), ""},
		{"chat/feb 29", KindChat, mod(c, "timestamp", `"2024-02-29T23:59:59.9Z"`), ""},
		{"chat/uppercase uuid", KindChat, mod(c, "message_id", `"123E4567-E89B-12D3-A456-426614174000"`), ""},
		{"chat/max names", KindChat, mod(c, "channel", q("a"+strings.Repeat("_", 24)), "username", q(strings.Repeat("_", 25))), ""},
		{"chat/min names", KindChat, mod(c, "channel", `"0ab"`, "username", `"x"`), ""},
		{"chat/escaped enum", KindChat, mod(c, "sentiment_hint", `"exc\u0069ted"`, "badges", `["v\u0069p"]`), ""},
		{"chat/odd unknown keys", KindChat, mod(c, "", `1`, "a/b~c", `2`, "\u0000", `3`, "\ufffd", `4`), ""},

		{"viewer/seed", KindViewer, v, ""},
		{"viewer/integers as decimals", KindViewer, mod(v, "viewer_count", `1234.0`, "chatter_count", `1.23e2`), ""},
		{"viewer/exponent forms", KindViewer, mod(v, "viewer_count", `12340E-1`, "chatter_count", `0.00123e+5`), ""},
		{"viewer/zeros", KindViewer, mod(v, "viewer_count", `-0`, "chatter_count", `0e1000`), ""},
		{"viewer/bounds", KindViewer, mod(v, "viewer_count", `10000000`, "chatter_count", `1e7`), ""},
		{"viewer/long zero", KindViewer, mod(v, "viewer_count", `0.`+strings.Repeat("0", 60)), ""},
		{"viewer/long mantissa", KindViewer, mod(v, "viewer_count", `1000000000000000000000e-15`, "chatter_count", `0.`+strings.Repeat("0", 57)+`1e60`), ""},
		{"viewer/unknown follower count", KindViewer, mod(v, "followers", `1e1000`), ""},
		{"viewer/gaming", KindViewer, mod(v, "channel", `"gaming"`), ""},

		{"transaction/seed", KindTransaction, t, ""},
		{"transaction/cents", KindTransaction, mod(t, "amount", `4.99`), ""},
		{"transaction/zero", KindTransaction, mod(t, "amount", `0`), ""},
		{"transaction/negative zero", KindTransaction, mod(t, "amount", `-0.0`), ""},
		{"transaction/max", KindTransaction, mod(t, "amount", `100000.000`), ""},
		{"transaction/exponent", KindTransaction, mod(t, "amount", `1234e-2`), ""},
		{"transaction/exponent 2", KindTransaction, mod(t, "amount", `0.1e5`), ""},
		{"transaction/subscription without tier", KindTransaction, mod(t, "transaction_type", `"subscription"`, "amount", `4.99`), ""},
		{"transaction/subscription", KindTransaction, mod(t, "transaction_type", `"subscription"`, "amount", `24.99`, "tier", `3`, "username", `"sub_guy"`), ""},
		{"transaction/gift sub", KindTransaction, mod(t, "transaction_type", `"gift_sub"`, "amount", `49.9`, "tier", `1.0`, "gift_count", `10`), ""},
		{"transaction/bits", KindTransaction, mod(t, "transaction_type", `"bits"`, "amount", `1`, "bits", `100`, "message", `"cheer100"`), ""},
		{"transaction/currency", KindTransaction, mod(t, "currency", `"EUR"`, "message", `""`), ""},
		{"transaction/currency USD escaped", KindTransaction, mod(t, "currency", `"US\u0044"`), ""},
		{"transaction/id 64", KindTransaction, mod(t, "transaction_id", q("txn_"+strings.Repeat("Zz09", 16))), ""},

		{"stream_meta/seed", KindStreamMeta, s, ""},
		{"stream_meta/empty title", KindStreamMeta, mod(s, "event_type", `"title_change"`, "title", `""`), ""},
		{"stream_meta/category", KindStreamMeta, mod(s, "event_type", `"category_change"`, "category", `"Just Chatting"`), ""},
		{"stream_meta/raid", KindStreamMeta, mod(s, "event_type", `"raid_incoming"`, "raid_from", `"gaming"`, "raid_viewers", `0`), ""},
		{"stream_meta/stream_end", KindStreamMeta, mod(s, "event_type", `"stream_end"`, "title", q(strings.Repeat("ü", 140))), ""},
		{"stream_meta/raid without details", KindStreamMeta, mod(s, "event_type", `"raid_incoming"`), ""},
	}
}

// invalidSamples are rejected by both paths, which both name field.
func invalidSamples() []sample {
	c, v, t, s := seedChat, seedViewer, seedTransaction, seedStreamMeta
	var out []sample
	add := func(name string, k Kind, data, field string) {
		out = append(out, sample{name, k, data, field})
	}
	// Missing required fields.
	for _, k := range Kinds() {
		names := map[Kind][]string{
			KindChat:        chatFields[:7],
			KindViewer:      viewerFields,
			KindTransaction: transactionFields[:5],
			KindStreamMeta:  streamMetaFields[:5],
		}[k]
		for _, n := range names {
			base := seedOf(k)
			add(string(k)+"/missing "+n, k, mod(base, n, ""), "/"+n)
			add(string(k)+"/null "+n, k, mod(base, n, "null"), "/"+n)
			add(string(k)+"/object "+n, k, mod(base, n, `{}`), "/"+n)
			add(string(k)+"/duplicate "+n, k, strings.Replace(base, "{", "{"+q(n)+": "+rawMember(base, n)+",", 1), "/"+n)
			// encoding/json would match this key case-insensitively.
			up := strings.ToUpper(n[:1]) + n[1:]
			add(string(k)+"/key case "+n, k, strings.Replace(base, q(n), q(up), 1), "/"+n)
		}
	}
	// Document level, for every kind.
	for _, k := range Kinds() {
		base := seedOf(k)
		p := string(k) + "/"
		add(p+"not utf8", k, strings.Replace(base, `"demo_stream"`, "\"demo\xffstream\"", 1), "")
		add(p+"not utf8 in unknown", k, mod(base, "x", "\"\xc3\x28\""), "")
		add(p+"surrogate bytes", k, strings.Replace(base, `"demo_stream"`, "\"demo\xed\xa0\x80\"", 1), "")
		add(p+"bom", k, "\xef\xbb\xbf"+base, "")
		add(p+"truncated", k, base[:len(base)-2], "")
		add(p+"trailing data", k, base+"{}", "")
		add(p+"trailing comma", k, strings.Replace(base, "\n}", ",\n}", 1), "")
		add(p+"array", k, "["+base+"]", "")
		add(p+"string", k, q(base), "")
		add(p+"null", k, "null", "")
		add(p+"empty", k, "", "")
		firstRequired := "/channel" // the required field first in byte order
		if k == KindTransaction {
			firstRequired = "/amount"
		}
		add(p+"empty object", k, "{}", firstRequired)
		add(p+"single quotes", k, strings.ReplaceAll(base, `"`, `'`), "")
		add(p+"control char", k, strings.Replace(base, `"demo_stream"`, "\"demo\tstream\"", 1), "")
		add(p+"bad escape", k, strings.Replace(base, `"demo_stream"`, `"demo\x5fstream"`, 1), "")
		add(p+"too deep", k, mod(base, "x", strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth)), "/x")
		add(p+"too deep objects", k, mod(base, "x", strings.Repeat(`{"a":`, MaxDepth)+"1"+strings.Repeat("}", MaxDepth)), "/x")
		add(p+"number too long", k, mod(base, "x", "1."+strings.Repeat("0", MaxNumberLen)), "/x")
		add(p+"exponent too big", k, mod(base, "x", "[1e1001]"), "/x")
		add(p+"exponent too small", k, mod(base, "x", "0E-00000000000000000000000001001"), "/x")
		add(p+"duplicate unknown", k, strings.Replace(base, "{", `{"x":1,"x":1,`, 1), "/x")
		add(p+"duplicate unknown escaped", k, strings.Replace(base, "{", `{"x":1,"\u0078":1,`, 1), "/x")
		add(p+"duplicate unknown surrogates", k, strings.Replace(base, "{", `{"\ud800":1,"\ufffd":1,`, 1), "/\ufffd")
		add(p+"duplicate channel escaped", k, strings.Replace(base, "{", `{"chann\u0065l":"demo_stream",`, 1), "/channel")
		add(p+"bad channel upper", k, mod(base, "channel", `"Demo_Stream"`), "/channel")
		add(p+"bad channel short", k, mod(base, "channel", `"ab"`), "/channel")
		add(p+"bad channel underscore", k, mod(base, "channel", `"_demo"`), "/channel")
		add(p+"bad channel long", k, mod(base, "channel", q(strings.Repeat("a", 26))), "/channel")
		add(p+"bad channel space", k, mod(base, "channel", `"demo stream"`), "/channel")
		add(p+"bad channel unicode", k, mod(base, "channel", `"démo"`), "/channel")
		add(p+"bad channel newline", k, mod(base, "channel", `"demo\n"`), "/channel")
		add(p+"bad channel number", k, mod(base, "channel", `42`), "/channel")
		for _, ts := range []string{
			`"2025-10-16 10:30:00Z"`, `"2025-10-16T10:30:00"`, `"2025-10-16T10:30Z"`, `"2025-13-01T00:00:00Z"`,
			`"2025-00-01T00:00:00Z"`, `"2025-02-29T00:00:00Z"`, `"2025-04-31T00:00:00Z"`, `"2025-10-00T00:00:00Z"`,
			`"2025-10-16T24:00:00Z"`, `"2025-10-16T10:60:00Z"`, `"2025-10-16T10:30:60Z"`, `"2016-12-31T23:59:60+01:00"`,
			`"2025-10-16T10:30:00.1234567890Z"`, `"2025-10-16T10:30:00.Z"`, `"2025-10-16T10:30:00+2:00"`,
			`"2025-10-16T10:30:00+24:00"`, `"2025-10-16T10:30:00+05:60"`, `"2025-10-16T10:30:00+0530"`,
			`"2025-10-16T+1:30:00Z"`, `"2025-10-16T-0:30:00Z"`, `"+025-10-16T10:30:00Z"`, `"20251016T103000Z"`,
			`"2025-10-16T10:30:00UTC"`, `"2025-10-16T10:30:00Z "`, `" 2025-10-16T10:30:00Z"`, `"2025-10-16T10:30:00ZZ"`,
			`"2025-10-16T10:30:00\u0000"`, `"2025-10-16T10:30:00Z\n"`, `"٢٠٢٥-10-16T10:30:00Z"`, `1760610600`, `""`,
		} {
			add(p+"bad timestamp "+ts, k, mod(base, "timestamp", ts), "/timestamp")
		}
	}
	// Chat.
	for _, id := range []string{`123`, `"not-a-uuid"`, `"123e4567e89b12d3a456426614174000"`, `"123e4567-e89b-12d3-a456-42661417400g"`,
		`"123e4567-e89b-12d3-a456-4266141740000"`, `"{123e4567-e89b-12d3-a456-426614174000}"`, `"123e4567-e89b-12d3-a456_426614174000"`} {
		add("chat/bad message_id "+id, KindChat, mod(c, "message_id", id), "/message_id")
	}
	for _, u := range []string{`""`, `"gamer 123"`, `"gamer-123"`, q(strings.Repeat("g", 26)), `"gämer"`, `true`} {
		add("chat/bad username "+u, KindChat, mod(c, "username", u), "/username")
	}
	add("chat/empty message", KindChat, mod(c, "message", `""`), "/message")
	add("chat/long message", KindChat, mod(c, "message", q(strings.Repeat("a", 501))), "/message")
	add("chat/long message 501 code points", KindChat, mod(c, "message", q(strings.Repeat("é", 501))), "/message")
	add("chat/long message escapes", KindChat, mod(c, "message", `"`+strings.Repeat(`\u00e9`, 501)+`"`), "/message")
	add("chat/emotes string", KindChat, mod(c, "emotes", `"PogChamp"`), "/emotes")
	add("chat/emotes number item", KindChat, mod(c, "emotes", `["Kappa",1]`), "/emotes/1")
	add("chat/emotes null item", KindChat, mod(c, "emotes", `[null]`), "/emotes/0")
	add("chat/emotes empty item", KindChat, mod(c, "emotes", `["Kappa",""]`), "/emotes/1")
	add("chat/emotes long item", KindChat, mod(c, "emotes", "["+q(strings.Repeat("K", 65))+"]"), "/emotes/0")
	add("chat/emotes 101", KindChat, mod(c, "emotes", "["+strings.Repeat(`"Kappa",`, 100)+`"LUL"]`), "/emotes")
	for _, sh := range []string{`"happy"`, `"EXCITED"`, `"excited "`, `1`, `["excited"]`} {
		add("chat/bad sentiment "+sh, KindChat, mod(c, "sentiment_hint", sh), "/sentiment_hint")
	}
	add("chat/empty user_id", KindChat, mod(c, "user_id", `""`), "/user_id")
	add("chat/long user_id", KindChat, mod(c, "user_id", q(strings.Repeat("1", 65))), "/user_id")
	add("chat/number user_id", KindChat, mod(c, "user_id", `48151623`), "/user_id")
	add("chat/bad badge", KindChat, mod(c, "badges", `["admin"]`), "/badges/0")
	add("chat/bad badge case", KindChat, mod(c, "badges", `["vip","VIP"]`), "/badges/1")
	add("chat/duplicate badge", KindChat, mod(c, "badges", `["vip","moderator","vip"]`), "/badges")
	add("chat/duplicate badge escaped", KindChat, mod(c, "badges", `["vip","v\u0069p"]`), "/badges")
	add("chat/badges string", KindChat, mod(c, "badges", `"vip"`), "/badges")
	add("chat/badges null item", KindChat, mod(c, "badges", `[null]`), "/badges/0")
	for _, col := range []string{`"red"`, `"#12345g"`, `"#1234567"`, `"123456"`, `""`, `0`} {
		add("chat/bad color "+col, KindChat, mod(c, "color", col), "/color")
	}
	// Viewer.
	for _, n := range []string{`-1`, `10000001`, `1.5`, `"1234"`, `1e8`, `true`, `-0.5`, `1e1001`, `1e-1001`, `1E400`,
		`12345678901234567890123`, `1.0000000000000000000000001`, `10000000.5`, `100000005e-1`} {
		add("viewer/bad viewer_count "+n, KindViewer, mod(v, "viewer_count", n), "/viewer_count")
		add("viewer/bad chatter_count "+n, KindViewer, mod(v, "chatter_count", n), "/chatter_count")
	}
	add("viewer/bad event_id", KindViewer, mod(v, "event_id", `"evt_1"`), "/event_id")
	// Transaction.
	for _, id := range []string{`"txn_short"`, `"tx_a1b2c3d4e5f6g7h8"`, `"txn_a1b2c3d4-e5f6"`, `"TXN_a1b2c3d4e5f6g7h8"`, q("txn_" + strings.Repeat("a", 65)), `"txn_a1b2c3d4e5f6g7h8 "`} {
		add("transaction/bad id "+id, KindTransaction, mod(t, "transaction_id", id), "/transaction_id")
	}
	for _, tt := range []string{`"refund"`, `"Donation"`, `"gift-sub"`, `0`} {
		add("transaction/bad type "+tt, KindTransaction, mod(t, "transaction_type", tt), "/transaction_type")
	}
	for _, a := range []string{`-1`, `-0.01`, `100000.01`, `4.999`, `"50"`, `1e6`, `0.001`, `1e-1001`, `50.000000000000000000001`, `1e1000`, `100000.000000000000000001`} {
		add("transaction/bad amount "+a, KindTransaction, mod(t, "amount", a), "/amount")
	}
	add("transaction/tier on donation", KindTransaction, mod(t, "tier", `1`), "/tier")
	add("transaction/bits on donation", KindTransaction, mod(t, "bits", `100`), "/bits")
	add("transaction/gift_count on donation", KindTransaction, mod(t, "gift_count", `1`), "/gift_count")
	add("transaction/bits on subscription", KindTransaction, mod(t, "transaction_type", `"subscription"`, "bits", `1`), "/bits")
	add("transaction/gift_count on subscription", KindTransaction, mod(t, "transaction_type", `"subscription"`, "gift_count", `2`), "/gift_count")
	add("transaction/tier on bits", KindTransaction, mod(t, "transaction_type", `"bits"`, "tier", `2`), "/tier")
	add("transaction/gift_count on bits", KindTransaction, mod(t, "transaction_type", `"bits"`, "gift_count", `2`), "/gift_count")
	add("transaction/bits on gift_sub", KindTransaction, mod(t, "transaction_type", `"gift_sub"`, "bits", `2`), "/bits")
	for _, n := range []string{`0`, `4`, `1.5`, `"1"`} {
		add("transaction/bad tier "+n, KindTransaction, mod(t, "transaction_type", `"subscription"`, "tier", n), "/tier")
	}
	for _, n := range []string{`0`, `10000001`, `-5`} {
		add("transaction/bad bits "+n, KindTransaction, mod(t, "transaction_type", `"bits"`, "bits", n), "/bits")
	}
	for _, n := range []string{`0`, `101`, `2.5`} {
		add("transaction/bad gift_count "+n, KindTransaction, mod(t, "transaction_type", `"gift_sub"`, "gift_count", n), "/gift_count")
	}
	for _, cur := range []string{`"usd"`, `"US"`, `"USDT"`, `"€"`, `null`} {
		add("transaction/bad currency "+cur, KindTransaction, mod(t, "currency", cur), "/currency")
	}
	add("transaction/bad username", KindTransaction, mod(t, "username", `"Mr. Money"`), "/username")
	add("transaction/long message", KindTransaction, mod(t, "message", q(strings.Repeat("€", 501))), "/message")
	// Stream meta.
	for _, et := range []string{`"stream_pause"`, `"STREAM_START"`, `""`, `null`} {
		add("stream_meta/bad event_type "+et, KindStreamMeta, mod(s, "event_type", et), "/event_type")
	}
	add("stream_meta/long title", KindStreamMeta, mod(s, "title", q(strings.Repeat("t", 141))), "/title")
	add("stream_meta/number title", KindStreamMeta, mod(s, "title", `1`), "/title")
	add("stream_meta/empty category", KindStreamMeta, mod(s, "category", `""`), "/category")
	add("stream_meta/long category", KindStreamMeta, mod(s, "category", q(strings.Repeat("c", 101))), "/category")
	add("stream_meta/raid_from on stream_start", KindStreamMeta, mod(s, "raid_from", `"gaming"`), "/raid_from")
	add("stream_meta/raid_viewers on title_change", KindStreamMeta, mod(s, "event_type", `"title_change"`, "raid_viewers", `10`), "/raid_viewers")
	add("stream_meta/bad raid_from", KindStreamMeta, mod(s, "event_type", `"raid_incoming"`, "raid_from", `"Bad Name"`), "/raid_from")
	add("stream_meta/bad raid_viewers", KindStreamMeta, mod(s, "event_type", `"raid_incoming"`, "raid_viewers", `-1`), "/raid_viewers")
	add("stream_meta/fractional raid_viewers", KindStreamMeta, mod(s, "event_type", `"raid_incoming"`, "raid_viewers", `2.5`), "/raid_viewers")
	return out
}

func allSamples() []sample { return append(validSamples(), invalidSamples()...) }

func TestCorpusIsWellFormed(t *testing.T) {
	names := map[string]bool{}
	for _, s := range allSamples() {
		if names[s.name] {
			t.Errorf("duplicate sample name %q", s.name)
		}
		names[s.name] = true
	}
}
