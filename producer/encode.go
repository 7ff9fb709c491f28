package producer

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/telemetra/telemetra/schemas"
)

// Hand-written JSON encoders of the schemas event types: the producer must sustain 100k+
// events/s on two cores, and reflection-based encoding/json costs several times more per
// event. Each writes the fields encoding/json would (same names, optional fields left out when
// empty, as their omitempty tags say), and schema_test.go checks that every generated event
// validates against its schema, decodes back to what was encoded, and carries what
// encoding/json makes of the same value.

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// timePrecision is what timeLayout keeps of a timestamp.
const timePrecision = time.Millisecond

func appendViewer(b []byte, v schemas.ViewerCount) []byte {
	b = append(b, `{"event_id":`...)
	b = appendString(b, v.EventID)
	b = appendField(b, "channel", v.Channel)
	b = append(b, `,"viewer_count":`...)
	b = strconv.AppendInt(b, v.ViewerCount, 10)
	b = append(b, `,"chatter_count":`...)
	b = strconv.AppendInt(b, v.ChatterCount, 10)
	b = appendTime(b, "timestamp", v.Timestamp)
	return append(b, '}')
}

func appendChat(b []byte, m schemas.ChatMessage) []byte {
	b = append(b, `{"message_id":`...)
	b = appendString(b, m.MessageID)
	b = appendField(b, "channel", m.Channel)
	b = appendField(b, "username", m.Username)
	b = appendField(b, "message", m.Message)
	b = appendStrings(b, "emotes", m.Emotes) // required: [] when there are none
	if len(m.Badges) > 0 {
		b = appendStrings(b, "badges", m.Badges)
	}
	if m.UserID != "" {
		b = appendField(b, "user_id", m.UserID)
	}
	if m.Color != "" {
		b = appendField(b, "color", m.Color)
	}
	b = appendField(b, "sentiment_hint", string(m.SentimentHint))
	b = appendTime(b, "timestamp", m.Timestamp)
	return append(b, '}')
}

func appendTransaction(b []byte, t schemas.Transaction) []byte {
	b = append(b, `{"transaction_id":`...)
	b = appendString(b, t.TransactionID)
	b = appendField(b, "channel", t.Channel)
	if t.Username != "" {
		b = appendField(b, "username", t.Username)
	}
	b = appendField(b, "transaction_type", string(t.TransactionType))
	b = append(b, `,"amount":`...)
	b = appendCents(b, t.AmountCents())
	if t.Currency != "" {
		b = appendField(b, "currency", t.Currency)
	}
	if t.Tier != 0 {
		b = append(b, `,"tier":`...)
		b = strconv.AppendInt(b, int64(t.Tier), 10)
	}
	if t.Bits != 0 {
		b = append(b, `,"bits":`...)
		b = strconv.AppendInt(b, t.Bits, 10)
	}
	if t.GiftCount != 0 {
		b = append(b, `,"gift_count":`...)
		b = strconv.AppendInt(b, int64(t.GiftCount), 10)
	}
	if t.Message != "" {
		b = appendField(b, "message", t.Message)
	}
	b = appendTime(b, "timestamp", t.Timestamp)
	return append(b, '}')
}

func appendStreamMeta(b []byte, m schemas.StreamMeta) []byte {
	b = append(b, `{"event_id":`...)
	b = appendString(b, m.EventID)
	b = appendField(b, "channel", m.Channel)
	b = appendField(b, "event_type", string(m.EventType))
	b = appendField(b, "title", m.Title)
	if m.Category != "" {
		b = appendField(b, "category", m.Category)
	}
	if m.RaidFrom != "" {
		b = appendField(b, "raid_from", m.RaidFrom)
	}
	if m.RaidViewers != 0 {
		b = append(b, `,"raid_viewers":`...)
		b = strconv.AppendInt(b, m.RaidViewers, 10)
	}
	b = appendTime(b, "timestamp", m.Timestamp)
	return append(b, '}')
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

func appendTime(b []byte, name string, t time.Time) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = t.UTC().AppendFormat(b, timeLayout)
	return append(b, '"')
}

func appendStrings[S ~string](b []byte, name string, values []S) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":[`...)
	for k, v := range values {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(v))
	}
	return append(b, ']')
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped writes s as the inside of a JSON string.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for k := 0; k < len(s); {
		c := s[k]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			k++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			k++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[k:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[k:k+size]...)
		}
		k += size
	}
	return b
}

// appendUUID writes u in its 8-4-4-4-12 text form (without quotes).
func appendUUID(b []byte, u [16]byte) []byte {
	const hex = "0123456789abcdef"
	for k, x := range u {
		if k == 4 || k == 6 || k == 8 || k == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return b
}

func appendHex64(b []byte, v uint64) []byte {
	const hex = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hex[(v>>uint(shift))&0xf])
	}
	return b
}

// appendCents writes an amount of US cents as a decimal number of dollars with two places.
func appendCents(b []byte, cents int64) []byte {
	b = strconv.AppendInt(b, cents/100, 10)
	c := cents % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}
