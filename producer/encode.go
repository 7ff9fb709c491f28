package producer

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Hand-written JSON encoders: the producer must sustain 100k+ events/s on two cores, and
// reflection-based encoding/json costs several times more per event. Tests check that every
// encoded event validates against its schema and decodes back to what was generated.

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func appendViewer(b []byte, id [16]byte, channel string, viewers, chatters int, at time.Time) []byte {
	b = append(b, `{"event_id":`...)
	b = appendUUID(b, id)
	b = appendField(b, "channel", channel)
	b = append(b, `,"viewer_count":`...)
	b = strconv.AppendInt(b, int64(viewers), 10)
	b = append(b, `,"chatter_count":`...)
	b = strconv.AppendInt(b, int64(chatters), 10)
	b = appendTime(b, "timestamp", at)
	return append(b, '}')
}

func appendChat(b []byte, id [16]byte, channel string, user []byte, text string, emotes, badges []string, hint string, at time.Time) []byte {
	b = append(b, `{"message_id":`...)
	b = appendUUID(b, id)
	b = appendField(b, "channel", channel)
	b = append(b, `,"username":`...)
	b = appendString(b, string(user))
	b = append(b, `,"message":"`...)
	b = appendEscaped(b, text)
	for _, e := range emotes {
		b = append(b, ' ')
		b = appendEscaped(b, e)
	}
	b = append(b, '"')
	b = appendStrings(b, "emotes", emotes)
	if len(badges) > 0 {
		b = appendStrings(b, "badges", badges)
	}
	b = appendField(b, "sentiment_hint", hint)
	b = appendTime(b, "timestamp", at)
	return append(b, '}')
}

type txn struct {
	id      uint64
	channel string
	user    []byte
	kind    string
	cents   int64
	tier    int
	bits    int64
	gifts   int
	at      time.Time
}

func appendTransaction(b []byte, t txn) []byte {
	b = append(b, `{"transaction_id":"txn_`...)
	b = appendHex64(b, t.id)
	b = append(b, '"')
	b = appendField(b, "channel", t.channel)
	b = append(b, `,"username":`...)
	b = appendString(b, string(t.user))
	b = appendField(b, "transaction_type", t.kind)
	b = append(b, `,"amount":`...)
	b = appendCents(b, t.cents)
	b = appendField(b, "currency", "USD")
	if t.tier > 0 {
		b = append(b, `,"tier":`...)
		b = strconv.AppendInt(b, int64(t.tier), 10)
	}
	if t.bits > 0 {
		b = append(b, `,"bits":`...)
		b = strconv.AppendInt(b, t.bits, 10)
	}
	if t.gifts > 0 {
		b = append(b, `,"gift_count":`...)
		b = strconv.AppendInt(b, int64(t.gifts), 10)
	}
	b = appendTime(b, "timestamp", t.at)
	return append(b, '}')
}

type meta struct {
	id          [16]byte
	channel     string
	eventType   string
	title       string
	category    string
	startedAt   time.Time
	raidFrom    string
	raidViewers int
	at          time.Time
}

func appendMeta(b []byte, m meta) []byte {
	b = append(b, `{"event_id":`...)
	b = appendUUID(b, m.id)
	b = appendField(b, "channel", m.channel)
	b = appendField(b, "event_type", m.eventType)
	b = appendField(b, "title", m.title)
	b = appendField(b, "category", m.category)
	if m.eventType != "stream_end" {
		b = appendTime(b, "started_at", m.startedAt)
	}
	if m.raidFrom != "" {
		b = appendField(b, "raid_from", m.raidFrom)
		b = append(b, `,"raid_viewers":`...)
		b = strconv.AppendInt(b, int64(m.raidViewers), 10)
	}
	b = appendTime(b, "timestamp", m.at)
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

func appendStrings(b []byte, name string, values []string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":[`...)
	for k, v := range values {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
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

func appendUUID(b []byte, u [16]byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for k, x := range u {
		if k == 4 || k == 6 || k == 8 || k == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return append(b, '"')
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

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }
