package schemas

import (
	"math"
	"time"
)

// Event is implemented by the four event types (by their values and their pointers).
type Event interface {
	// EventChannel is the channel the event belongs to (the Kafka record key).
	EventChannel() string
	// EventTime is the event time (its timestamp, in UTC).
	EventTime() time.Time
	// EventKind is the kind of the event.
	EventKind() Kind
}

// Sentiment is the producer's sentiment hint of a chat message.
type Sentiment string

// Sentiment values.
const (
	SentimentPositive Sentiment = "positive"
	SentimentNegative Sentiment = "negative"
	SentimentNeutral  Sentiment = "neutral"
	SentimentExcited  Sentiment = "excited"
	SentimentQuestion Sentiment = "question"
)

// allSentiments lists every Sentiment, in the schema's enum order (the decoder accepts these).
func allSentiments() []Sentiment {
	return []Sentiment{SentimentPositive, SentimentNegative, SentimentNeutral, SentimentExcited, SentimentQuestion}
}

// Badge is a chat badge.
type Badge string

// Badge values.
const (
	BadgeBroadcaster Badge = "broadcaster"
	BadgeModerator   Badge = "moderator"
	BadgeVIP         Badge = "vip"
	BadgeSubscriber  Badge = "subscriber"
	BadgeFounder     Badge = "founder"
	BadgePartner     Badge = "partner"
)

// badgeCount is the number of Badge values: a chat message wears each at most once, so the
// decoder scans badges into an array of this size.
const badgeCount = 6

// allBadges lists every Badge, in the schema's enum order (the decoder accepts these). The
// [...] literal does not compile unless it has exactly badgeCount values.
func allBadges() [badgeCount]Badge {
	return [...]Badge{BadgeBroadcaster, BadgeModerator, BadgeVIP, BadgeSubscriber, BadgeFounder, BadgePartner}
}

// TransactionType is the kind of a transaction.
type TransactionType string

// TransactionType values.
const (
	TransactionDonation     TransactionType = "donation"
	TransactionSubscription TransactionType = "subscription"
	TransactionBits         TransactionType = "bits"
	TransactionGiftSub      TransactionType = "gift_sub"
)

// allTransactionTypes lists every TransactionType, in the schema's enum order (the decoder
// accepts these).
func allTransactionTypes() []TransactionType {
	return []TransactionType{TransactionDonation, TransactionSubscription, TransactionBits, TransactionGiftSub}
}

// StreamEventType is the kind of a stream metadata event.
type StreamEventType string

// StreamEventType values.
const (
	StreamStart    StreamEventType = "stream_start"
	StreamEnd      StreamEventType = "stream_end"
	TitleChange    StreamEventType = "title_change"
	CategoryChange StreamEventType = "category_change"
	RaidIncoming   StreamEventType = "raid_incoming"
)

// allStreamEventTypes lists every StreamEventType, in the schema's enum order (the decoder
// accepts these).
func allStreamEventTypes() []StreamEventType {
	return []StreamEventType{StreamStart, StreamEnd, TitleChange, CategoryChange, RaidIncoming}
}

// DefaultCurrency is the currency of a transaction without a currency field.
const DefaultCurrency = "USD"

// ChatMessage is a chat message (topic telemetra.events.chat, schema chat_message.json).
type ChatMessage struct {
	MessageID     string    `json:"message_id"`
	Channel       string    `json:"channel"`
	Username      string    `json:"username"`
	Message       string    `json:"message"`
	Emotes        []string  `json:"emotes"` // never nil after decoding; empty for "emotes": []
	SentimentHint Sentiment `json:"sentiment_hint"`
	Timestamp     time.Time `json:"timestamp"`

	// Optional fields: "" / nil when absent.
	UserID string  `json:"user_id,omitempty"`
	Badges []Badge `json:"badges,omitempty"`
	Color  string  `json:"color,omitempty"`
}

// ViewerCount is a viewer count sample (topic telemetra.events.viewer, schema viewer_count.json).
type ViewerCount struct {
	EventID      string    `json:"event_id"`
	Channel      string    `json:"channel"`
	ViewerCount  int64     `json:"viewer_count"`
	ChatterCount int64     `json:"chatter_count"`
	Timestamp    time.Time `json:"timestamp"`
}

// Transaction is a monetisation event (topic telemetra.events.transactions, schema
// transaction.json).
type Transaction struct {
	TransactionID   string          `json:"transaction_id"`
	Channel         string          `json:"channel"`
	TransactionType TransactionType `json:"transaction_type"`
	// Amount in Currency, a whole number of cents (see AmountCents).
	Amount    float64   `json:"amount"`
	Timestamp time.Time `json:"timestamp"`

	// Optional fields: zero when absent, except Currency which defaults to DefaultCurrency.
	Username  string `json:"username,omitempty"`
	Currency  string `json:"currency,omitempty"`
	Tier      int    `json:"tier,omitempty"`       // 1-3, subscription and gift_sub only
	Bits      int64  `json:"bits,omitempty"`       // bits only
	GiftCount int    `json:"gift_count,omitempty"` // gift_sub only
	Message   string `json:"message,omitempty"`
}

// AmountCents returns Amount in cents (hundredths of the currency unit), rounded to the
// nearest cent. For a decoded transaction it is exact: the schema only admits whole cents.
func (t Transaction) AmountCents() int64 {
	return int64(math.Round(t.Amount * 100))
}

// StreamMeta is a stream lifecycle/metadata event (topic telemetra.events.stream_meta, schema
// stream_meta.json).
type StreamMeta struct {
	EventID   string          `json:"event_id"`
	Channel   string          `json:"channel"`
	EventType StreamEventType `json:"event_type"`
	Title     string          `json:"title"`
	Timestamp time.Time       `json:"timestamp"`

	// Optional fields: zero when absent (an absent raid_viewers and 0 are the same).
	Category    string `json:"category,omitempty"`
	RaidFrom    string `json:"raid_from,omitempty"`    // raid_incoming only
	RaidViewers int64  `json:"raid_viewers,omitempty"` // raid_incoming only
}

// EventChannel implements Event.
func (m ChatMessage) EventChannel() string { return m.Channel }

// EventTime implements Event.
func (m ChatMessage) EventTime() time.Time { return m.Timestamp }

// EventKind implements Event.
func (ChatMessage) EventKind() Kind { return KindChat }

// EventChannel implements Event.
func (v ViewerCount) EventChannel() string { return v.Channel }

// EventTime implements Event.
func (v ViewerCount) EventTime() time.Time { return v.Timestamp }

// EventKind implements Event.
func (ViewerCount) EventKind() Kind { return KindViewer }

// EventChannel implements Event.
func (t Transaction) EventChannel() string { return t.Channel }

// EventTime implements Event.
func (t Transaction) EventTime() time.Time { return t.Timestamp }

// EventKind implements Event.
func (Transaction) EventKind() Kind { return KindTransaction }

// EventChannel implements Event.
func (s StreamMeta) EventChannel() string { return s.Channel }

// EventTime implements Event.
func (s StreamMeta) EventTime() time.Time { return s.Timestamp }

// EventKind implements Event.
func (StreamMeta) EventKind() Kind { return KindStreamMeta }
