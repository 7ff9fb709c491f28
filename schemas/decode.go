package schemas

import (
	"fmt"
	"strconv"
	"time"
)

// The decoders below accept exactly the inputs Validator.Validate accepts for their kind
// (this is what the agreement and fuzz tests check) without running the JSON Schema
// validator: each known field is checked by hand against its schema. Keys match exactly
// (case-sensitive, after unescaping), unknown members are checked for syntax and the input
// policy and otherwise ignored. Strings of one event share a single allocation.
//
// On error the returned event is the zero value and the error is a *DecodeError.

// Decode decodes an event of kind k. The Event holds a ChatMessage, ViewerCount, Transaction
// or StreamMeta value (not a pointer).
func Decode(k Kind, data []byte) (Event, error) {
	switch k {
	case KindChat:
		e, err := DecodeChat(data)
		if err != nil {
			return nil, err
		}
		return e, nil
	case KindViewer:
		e, err := DecodeViewer(data)
		if err != nil {
			return nil, err
		}
		return e, nil
	case KindTransaction:
		e, err := DecodeTransaction(data)
		if err != nil {
			return nil, err
		}
		return e, nil
	case KindStreamMeta:
		e, err := DecodeStreamMeta(data)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	return nil, fmt.Errorf("unknown event kind %q", string(k))
}

// mark records that the member with bit f was seen, rejecting a duplicate.
func mark(seen *uint16, f uint16, field string) error {
	if *seen&f != 0 {
		return fieldErr(field, reasonDuplicate)
	}
	*seen |= f
	return nil
}

// missing reports the required member absent from seen that comes first in byte order (the
// order in which Validate reports problems).
func missing(seen, required uint16, names []string) error {
	first := ""
	for i, name := range names {
		if required&(1<<i) != 0 && seen&(1<<i) == 0 && (first == "" || name < first) {
			first = name
		}
	}
	if first != "" {
		return fieldErr("/"+first, reasonRequired)
	}
	return nil
}

// strField scans a string member and checks its decoded content with check.
func (d *decoder) strField(field string, check func([]byte) string) (span, error) {
	sp, err := d.str(field)
	if err != nil {
		return sp, err
	}
	if r := check(d.content(sp)); r != "" {
		return sp, fieldErr(field, r)
	}
	return sp, nil
}

// timeField scans a timestamp member.
func (d *decoder) timeField(field string) (time.Time, error) {
	sp, err := d.str(field)
	if err != nil {
		return time.Time{}, err
	}
	t, r := parseTimestamp(d.content(sp))
	if r != "" {
		return time.Time{}, fieldErr(field, r)
	}
	return t, nil
}

// intField scans an integer member with the given bounds.
func (d *decoder) intField(field string, lo, hi int64) (int64, error) {
	if d.pos >= len(d.data) || (d.data[d.pos] != '-' && !isDigit(d.data[d.pos])) {
		return 0, d.typeErr(field, "integer")
	}
	lit, err := d.number(field)
	if err != nil {
		return 0, err
	}
	v, r := integer(lit, lo, hi)
	if r != "" {
		return 0, fieldErr(field, r)
	}
	return v, nil
}

// enumField scans a string member and returns the matching value of want.
func enumField[T ~string](d *decoder, field string, want ...T) (T, error) {
	sp, err := d.str(field)
	if err != nil {
		return "", err
	}
	b := d.content(sp)
	for _, w := range want {
		if string(b) == string(w) {
			return w, nil
		}
	}
	return "", fieldErr(field, enumReason(want))
}

func enumReason[T ~string](want []T) string {
	r := "must be one of "
	for i, w := range want {
		if i > 0 {
			r += ", "
		}
		r += string(w)
	}
	return r
}

func itemPtr(field string, i int) string { return field + "/" + strconv.Itoa(i) }

func checkMessage(b []byte) string  { return checkLen(b, minMessageLen, maxMessageLen) }
func checkEmote(b []byte) string    { return checkLen(b, minEmoteLen, maxEmoteLen) }
func checkUserID(b []byte) string   { return checkLen(b, minUserIDLen, maxUserIDLen) }
func checkTitle(b []byte) string    { return checkLen(b, 0, maxTitleLen) }
func checkCategory(b []byte) string { return checkLen(b, minCategoryLen, maxCategoryLen) }
func checkTxnMsg(b []byte) string   { return checkLen(b, 0, maxTxnMessageLen) }

// Bounds, as in the schemas (contract_test.go ties each one to its schema keyword). Lengths
// are in code points; a minimum of 0 is no minLength.
const (
	minMessageLen, maxMessageLen   = 1, 500 // chat message
	minEmoteLen, maxEmoteLen       = 1, 64
	maxEmotes                      = 100
	minUserIDLen, maxUserIDLen     = 1, 64
	maxTitleLen                    = 140
	minCategoryLen, maxCategoryLen = 1, 100
	maxTxnMessageLen               = 500 // transaction message

	minCount, maxCount         = 0, 10_000_000 // viewer_count, chatter_count, raid_viewers
	minTier, maxTier           = 1, 3
	minBits, maxBits           = 1, 10_000_000
	minGiftCount, maxGiftCount = 1, 100

	maxAmountCents = 100_000_00 // amount: {"minimum": 0, "maximum": 100000}, in cents
)

// The decoders' field lists start with the schema's required fields: this many of them.
const (
	chatRequired        = 7
	viewerRequired      = 5
	transactionRequired = 5
	streamMetaRequired  = 5
)

var chatFields = []string{"message_id", "channel", "username", "message", "emotes", "sentiment_hint", "timestamp", "user_id", "badges", "color"}

// DecodeChat decodes and checks a chat message (schema chat_message.json).
func DecodeChat(data []byte) (ChatMessage, error) {
	m, err := decodeChat(data)
	if err != nil {
		return ChatMessage{}, err
	}
	return m, nil
}

func decodeChat(data []byte) (m ChatMessage, err error) {
	var d decoder
	if err = d.begin(data); err != nil {
		return m, err
	}
	var (
		seen                          uint16
		id, ch, user, msg, uid, color span
		emotes                        [maxEmotes]span
		nEmotes                       int
		badges                        [badgeCount]Badge
		nBadges                       int
		badgesPresent                 bool
	)
	for {
		key, done, err := d.next()
		if err != nil {
			return m, err
		}
		if done {
			break
		}
		switch string(key) {
		case "message_id":
			if err = mark(&seen, 1<<0, "/message_id"); err == nil {
				id, err = d.strField("/message_id", checkUUID)
			}
		case "channel":
			if err = mark(&seen, 1<<1, "/channel"); err == nil {
				ch, err = d.strField("/channel", checkChannel)
			}
		case "username":
			if err = mark(&seen, 1<<2, "/username"); err == nil {
				user, err = d.strField("/username", checkUsername)
			}
		case "message":
			if err = mark(&seen, 1<<3, "/message"); err == nil {
				msg, err = d.strField("/message", checkMessage)
			}
		case "emotes":
			if err = mark(&seen, 1<<4, "/emotes"); err == nil {
				nEmotes, err = d.emotes(&emotes)
			}
		case "sentiment_hint":
			if err = mark(&seen, 1<<5, "/sentiment_hint"); err == nil {
				m.SentimentHint, err = enumField(&d, "/sentiment_hint", allSentiments()...)
			}
		case "timestamp":
			if err = mark(&seen, 1<<6, "/timestamp"); err == nil {
				m.Timestamp, err = d.timeField("/timestamp")
			}
		case "user_id":
			if err = mark(&seen, 1<<7, "/user_id"); err == nil {
				uid, err = d.strField("/user_id", checkUserID)
			}
		case "badges":
			if err = mark(&seen, 1<<8, "/badges"); err == nil {
				badgesPresent = true
				nBadges, err = d.badges(&badges)
			}
		case "color":
			if err = mark(&seen, 1<<9, "/color"); err == nil {
				color, err = d.strField("/color", checkColor)
			}
		default:
			err = d.unknownKey(key)
		}
		if err != nil {
			return m, err
		}
	}
	if err = d.finish(); err != nil {
		return m, err
	}
	if err = missing(seen, 1<<chatRequired-1, chatFields); err != nil {
		return m, err
	}

	var b builder
	b.b.Grow(size(id, ch, user, msg, uid, color) + size(emotes[:nEmotes]...))
	rID, rCh, rUser, rMsg, rUID, rColor := d.add(&b, id), d.add(&b, ch), d.add(&b, user), d.add(&b, msg), d.add(&b, uid), d.add(&b, color)
	for i := range nEmotes { // the spans now locate the decoded emotes in the builder
		r := d.add(&b, emotes[i])
		emotes[i].off, emotes[i].end = r[0], r[1]
	}
	all := b.b.String()
	m.MessageID = all[rID[0]:rID[1]]
	m.Channel = all[rCh[0]:rCh[1]]
	m.Username = all[rUser[0]:rUser[1]]
	m.Message = all[rMsg[0]:rMsg[1]]
	m.UserID = all[rUID[0]:rUID[1]]
	m.Color = all[rColor[0]:rColor[1]]
	if nEmotes == 0 {
		m.Emotes = []string{}
	} else {
		m.Emotes = make([]string, nEmotes)
		for i := range nEmotes {
			m.Emotes[i] = all[emotes[i].off:emotes[i].end]
		}
	}
	if badgesPresent {
		if nBadges == 0 {
			m.Badges = []Badge{}
		} else {
			m.Badges = append([]Badge(nil), badges[:nBadges]...)
		}
	}
	return m, nil
}

// emotes scans the emotes array: {"type": "array", "maxItems": 100, "items": {"type":
// "string", "minLength": 1, "maxLength": 64}}.
func (d *decoder) emotes(out *[maxEmotes]span) (n int, err error) {
	empty, err := d.arrayStart("/emotes")
	if err != nil || empty {
		return 0, err
	}
	for {
		if n == maxEmotes {
			return 0, fieldErr("/emotes", "must have at most "+strconv.Itoa(maxEmotes)+" items")
		}
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return 0, d.typeErr(itemPtr("/emotes", n), "string")
		}
		sp, err := d.scanString()
		if err != nil {
			return 0, err
		}
		if r := checkEmote(d.content(sp)); r != "" {
			return 0, fieldErr(itemPtr("/emotes", n), r)
		}
		out[n] = sp
		n++
		end, err := d.arrayNext()
		if err != nil {
			return 0, err
		}
		if end {
			return n, nil
		}
	}
}

// badges scans the badges array: {"type": "array", "uniqueItems": true, "items": {"type":
// "string", "enum": [...]}}.
func (d *decoder) badges(out *[badgeCount]Badge) (n int, err error) {
	empty, err := d.arrayStart("/badges")
	if err != nil || empty {
		return 0, err
	}
	all := allBadges()
	var seen uint32 // bit k: all[k] was seen
	for i := 0; ; i++ {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return 0, d.typeErr(itemPtr("/badges", i), "string")
		}
		sp, err := d.scanString()
		if err != nil {
			return 0, err
		}
		b := d.content(sp)
		k := 0
		for k < len(all) && string(b) != string(all[k]) {
			k++
		}
		if k == len(all) {
			return 0, fieldErr(itemPtr("/badges", i), enumReason(all[:]))
		}
		if seen&(1<<k) != 0 {
			return 0, fieldErr("/badges", "items must be unique")
		}
		seen |= 1 << k
		out[n] = all[k]
		n++
		end, err := d.arrayNext()
		if err != nil {
			return 0, err
		}
		if end {
			return n, nil
		}
	}
}

var viewerFields = []string{"event_id", "channel", "viewer_count", "chatter_count", "timestamp"}

// DecodeViewer decodes and checks a viewer count sample (schema viewer_count.json).
func DecodeViewer(data []byte) (ViewerCount, error) {
	v, err := decodeViewer(data)
	if err != nil {
		return ViewerCount{}, err
	}
	return v, nil
}

func decodeViewer(data []byte) (v ViewerCount, err error) {
	var d decoder
	if err = d.begin(data); err != nil {
		return v, err
	}
	var (
		seen   uint16
		id, ch span
	)
	for {
		key, done, err := d.next()
		if err != nil {
			return v, err
		}
		if done {
			break
		}
		switch string(key) {
		case "event_id":
			if err = mark(&seen, 1<<0, "/event_id"); err == nil {
				id, err = d.strField("/event_id", checkUUID)
			}
		case "channel":
			if err = mark(&seen, 1<<1, "/channel"); err == nil {
				ch, err = d.strField("/channel", checkChannel)
			}
		case "viewer_count":
			if err = mark(&seen, 1<<2, "/viewer_count"); err == nil {
				v.ViewerCount, err = d.intField("/viewer_count", minCount, maxCount)
			}
		case "chatter_count":
			if err = mark(&seen, 1<<3, "/chatter_count"); err == nil {
				v.ChatterCount, err = d.intField("/chatter_count", minCount, maxCount)
			}
		case "timestamp":
			if err = mark(&seen, 1<<4, "/timestamp"); err == nil {
				v.Timestamp, err = d.timeField("/timestamp")
			}
		default:
			err = d.unknownKey(key)
		}
		if err != nil {
			return v, err
		}
	}
	if err = d.finish(); err != nil {
		return v, err
	}
	if err = missing(seen, 1<<viewerRequired-1, viewerFields); err != nil {
		return v, err
	}
	var b builder
	b.b.Grow(size(id, ch))
	rID, rCh := d.add(&b, id), d.add(&b, ch)
	all := b.b.String()
	v.EventID = all[rID[0]:rID[1]]
	v.Channel = all[rCh[0]:rCh[1]]
	return v, nil
}

var transactionFields = []string{"transaction_id", "channel", "transaction_type", "amount", "timestamp", "username", "currency", "tier", "bits", "gift_count", "message"}

// DecodeTransaction decodes and checks a transaction (schema transaction.json). Currency is
// DefaultCurrency when the input has none.
func DecodeTransaction(data []byte) (Transaction, error) {
	t, err := decodeTransaction(data)
	if err != nil {
		return Transaction{}, err
	}
	return t, nil
}

func decodeTransaction(data []byte) (t Transaction, err error) {
	var d decoder
	if err = d.begin(data); err != nil {
		return t, err
	}
	var (
		seen                          uint16
		id, ch, user, currency, msg   span
		amountCents, tier, gift, bits int64
	)
	for {
		key, done, err := d.next()
		if err != nil {
			return t, err
		}
		if done {
			break
		}
		switch string(key) {
		case "transaction_id":
			if err = mark(&seen, 1<<0, "/transaction_id"); err == nil {
				id, err = d.strField("/transaction_id", checkTxnID)
			}
		case "channel":
			if err = mark(&seen, 1<<1, "/channel"); err == nil {
				ch, err = d.strField("/channel", checkChannel)
			}
		case "transaction_type":
			if err = mark(&seen, 1<<2, "/transaction_type"); err == nil {
				t.TransactionType, err = enumField(&d, "/transaction_type", allTransactionTypes()...)
			}
		case "amount":
			if err = mark(&seen, 1<<3, "/amount"); err == nil {
				amountCents, err = d.amount("/amount")
			}
		case "timestamp":
			if err = mark(&seen, 1<<4, "/timestamp"); err == nil {
				t.Timestamp, err = d.timeField("/timestamp")
			}
		case "username":
			if err = mark(&seen, 1<<5, "/username"); err == nil {
				user, err = d.strField("/username", checkUsername)
			}
		case "currency":
			if err = mark(&seen, 1<<6, "/currency"); err == nil {
				currency, err = d.strField("/currency", checkCurrency)
			}
		case "tier":
			if err = mark(&seen, 1<<7, "/tier"); err == nil {
				tier, err = d.intField("/tier", minTier, maxTier)
			}
		case "bits":
			if err = mark(&seen, 1<<8, "/bits"); err == nil {
				bits, err = d.intField("/bits", minBits, maxBits)
			}
		case "gift_count":
			if err = mark(&seen, 1<<9, "/gift_count"); err == nil {
				gift, err = d.intField("/gift_count", minGiftCount, maxGiftCount)
			}
		case "message":
			if err = mark(&seen, 1<<10, "/message"); err == nil {
				msg, err = d.strField("/message", checkTxnMsg)
			}
		default:
			err = d.unknownKey(key)
		}
		if err != nil {
			return t, err
		}
	}
	if err = d.finish(); err != nil {
		return t, err
	}
	if err = missing(seen, 1<<transactionRequired-1, transactionFields); err != nil {
		return t, err
	}
	if f := seen & transactionForbidden(t.TransactionType); f != 0 {
		for i, name := range transactionFields {
			if f&(1<<i) != 0 {
				return t, fieldErr("/"+name, "not allowed for transaction_type "+string(t.TransactionType))
			}
		}
	}

	t.Amount = float64(amountCents) / 100 // correctly rounded, so equal to parsing the literal
	t.Tier, t.Bits, t.GiftCount = int(tier), bits, int(gift)
	var b builder
	b.b.Grow(size(id, ch, user, currency, msg))
	rID, rCh, rUser, rMsg := d.add(&b, id), d.add(&b, ch), d.add(&b, user), d.add(&b, msg)
	var rCur [2]int
	curUSD := seen&(1<<6) == 0 || (!currency.esc && string(data[currency.off:currency.end]) == DefaultCurrency)
	if !curUSD {
		rCur = d.add(&b, currency)
	}
	all := b.b.String()
	t.TransactionID = all[rID[0]:rID[1]]
	t.Channel = all[rCh[0]:rCh[1]]
	t.Username = all[rUser[0]:rUser[1]]
	t.Message = all[rMsg[0]:rMsg[1]]
	if curUSD {
		t.Currency = DefaultCurrency
	} else {
		t.Currency = all[rCur[0]:rCur[1]]
	}
	return t, nil
}

// transactionForbidden is the schema's allOf if/then rules: the type-specific members (bits of
// transactionFields) not allowed with transaction type tt.
func transactionForbidden(tt TransactionType) uint16 {
	const tier, bits, giftCount = 1 << 7, 1 << 8, 1 << 9
	switch tt {
	case TransactionDonation:
		return tier | bits | giftCount
	case TransactionSubscription:
		return bits | giftCount
	case TransactionBits:
		return tier | giftCount
	case TransactionGiftSub:
		return bits
	}
	return 0
}

// amount scans the amount member: {"type": "number", "minimum": 0, "maximum": 100000,
// "multipleOf": 0.01}, returning cents.
func (d *decoder) amount(field string) (int64, error) {
	if d.pos >= len(d.data) || (d.data[d.pos] != '-' && !isDigit(d.data[d.pos])) {
		return 0, d.typeErr(field, "number")
	}
	lit, err := d.number(field)
	if err != nil {
		return 0, err
	}
	c, r := cents(lit, maxAmountCents)
	if r != "" {
		return 0, fieldErr(field, r)
	}
	return c, nil
}

// streamMetaForbidden is the schema's allOf if/then rule: the raid members (bits of
// streamMetaFields) only with raid_incoming.
func streamMetaForbidden(et StreamEventType) uint16 {
	const raidFrom, raidViewers = 1 << 6, 1 << 7
	if et == RaidIncoming {
		return 0
	}
	return raidFrom | raidViewers
}

var streamMetaFields = []string{"event_id", "channel", "event_type", "title", "timestamp", "category", "raid_from", "raid_viewers"}

// DecodeStreamMeta decodes and checks a stream metadata event (schema stream_meta.json).
func DecodeStreamMeta(data []byte) (StreamMeta, error) {
	s, err := decodeStreamMeta(data)
	if err != nil {
		return StreamMeta{}, err
	}
	return s, nil
}

func decodeStreamMeta(data []byte) (s StreamMeta, err error) {
	var d decoder
	if err = d.begin(data); err != nil {
		return s, err
	}
	var (
		seen                           uint16
		id, ch, title, category, raidF span
	)
	for {
		key, done, err := d.next()
		if err != nil {
			return s, err
		}
		if done {
			break
		}
		switch string(key) {
		case "event_id":
			if err = mark(&seen, 1<<0, "/event_id"); err == nil {
				id, err = d.strField("/event_id", checkUUID)
			}
		case "channel":
			if err = mark(&seen, 1<<1, "/channel"); err == nil {
				ch, err = d.strField("/channel", checkChannel)
			}
		case "event_type":
			if err = mark(&seen, 1<<2, "/event_type"); err == nil {
				s.EventType, err = enumField(&d, "/event_type", allStreamEventTypes()...)
			}
		case "title":
			if err = mark(&seen, 1<<3, "/title"); err == nil {
				title, err = d.strField("/title", checkTitle)
			}
		case "timestamp":
			if err = mark(&seen, 1<<4, "/timestamp"); err == nil {
				s.Timestamp, err = d.timeField("/timestamp")
			}
		case "category":
			if err = mark(&seen, 1<<5, "/category"); err == nil {
				category, err = d.strField("/category", checkCategory)
			}
		case "raid_from":
			if err = mark(&seen, 1<<6, "/raid_from"); err == nil {
				raidF, err = d.strField("/raid_from", checkChannel)
			}
		case "raid_viewers":
			if err = mark(&seen, 1<<7, "/raid_viewers"); err == nil {
				s.RaidViewers, err = d.intField("/raid_viewers", minCount, maxCount)
			}
		default:
			err = d.unknownKey(key)
		}
		if err != nil {
			return s, err
		}
	}
	if err = d.finish(); err != nil {
		return s, err
	}
	if err = missing(seen, 1<<streamMetaRequired-1, streamMetaFields); err != nil {
		return s, err
	}
	if f := seen & streamMetaForbidden(s.EventType); f != 0 {
		for i, name := range streamMetaFields {
			if f&(1<<i) != 0 {
				return s, fieldErr("/"+name, "not allowed for event_type "+string(s.EventType))
			}
		}
	}
	var b builder
	b.b.Grow(size(id, ch, title, category, raidF))
	rID, rCh, rTitle, rCat, rRaid := d.add(&b, id), d.add(&b, ch), d.add(&b, title), d.add(&b, category), d.add(&b, raidF)
	all := b.b.String()
	s.EventID = all[rID[0]:rID[1]]
	s.Channel = all[rCh[0]:rCh[1]]
	s.Title = all[rTitle[0]:rTitle[1]]
	s.Category = all[rCat[0]:rCat[1]]
	s.RaidFrom = all[rRaid[0]:rRaid[1]]
	return s, nil
}
