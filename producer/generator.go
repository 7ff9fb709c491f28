// Package producer is Telemetra's realistic mock Twitch producer: a deterministic simulation of
// live channels (generator.go, pure) and the Kafka plumbing that writes its events (run.go).
package producer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/schemas"
)

// Record is one generated event, ready to be written to Kafka.
type Record struct {
	Topic string
	Key   []byte // the channel: every topic is keyed by channel
	Value []byte // a schemas event type (ChatMessage, ...) as JSON, matching the topic's schema
	Time  time.Time
}

// Config tunes the simulation. The zero value of each field means its default.
type Config struct {
	Channels []string
	Seed     uint64
	// MinStreamDuration keeps a stream live at least this long (event time) before it may end.
	MinStreamDuration time.Duration
	// MinOfflineDuration keeps a channel offline at least this long before it may start again.
	MinOfflineDuration time.Duration
	// Jitter moves each event's timestamp back by up to this much, so events arrive slightly out
	// of order as they do from real clients.
	Jitter time.Duration
}

// Shares of the event mix, from the seed's data patterns.
const (
	shareChat        = 0.70
	shareViewer      = 0.20
	shareTransaction = 0.05
	// during a donation/sub burst ("hype train") transactions take this share instead
	shareTransactionBurst = 0.20
)

const (
	minViewers   = 100
	maxViewers   = 5000
	hypeHalfLife = 60 * time.Second
)

// channelSim is one simulated channel.
type channelSim struct {
	name        string
	key         []byte
	live        bool
	changedAt   time.Time // when it last went live or offline
	title       string
	category    string
	viewers     int
	chatRatio   float64 // chatters / viewers, 5–20%
	pendingRaid int     // raiders arrive with the next viewer sample
	hypeBoost   float64
	hypeAt      time.Time
}

func (c *channelSim) chatters() int { return int(math.Round(float64(c.viewers) * c.chatRatio)) }

// hype is 1 normally and higher after raids and viewer spikes, decaying with event time.
func (c *channelSim) hype(at time.Time) float64 {
	if c.hypeBoost == 0 {
		return 1
	}
	age := at.Sub(c.hypeAt).Seconds()
	if age < 0 {
		age = 0
	}
	return 1 + c.hypeBoost*math.Exp2(-age/hypeHalfLife.Seconds())
}

// Generator produces a reproducible stream of events: the same Config and the same sequence of
// timestamps give byte-identical records.
type Generator struct {
	cfg      Config
	rng      *rand.Rand
	channels []*channelSim
	live     *indexSet
	offline  *indexSet
	chatty   *fenwick // weight of each live channel for chat and transactions
	starts   []int    // channels that open with a stream_start before anything else
	burst    struct {
		channel int
		left    int
	}
}

// CheckChannels checks the channels to simulate: at least one, none twice, and each a valid
// channel under the event schemas' own rule (schemas.CheckChannel), so that no event is
// dead-lettered for its channel.
func CheckChannels(channels []string) error {
	if len(channels) == 0 {
		return errors.New("no channels configured")
	}
	seen := make(map[string]bool, len(channels))
	for _, name := range channels {
		if reason := schemas.CheckChannel(name); reason != "" {
			return fmt.Errorf("channel %q: %s", name, reason)
		}
		if seen[name] {
			return fmt.Errorf("channel %q listed twice", name)
		}
		seen[name] = true
	}
	return nil
}

// NewGenerator validates the config and sets up the channels, all about to go live.
func NewGenerator(cfg Config) (*Generator, error) {
	if err := CheckChannels(cfg.Channels); err != nil {
		return nil, err
	}
	if cfg.MinStreamDuration == 0 {
		cfg.MinStreamDuration = 10 * time.Minute
	}
	if cfg.MinOfflineDuration == 0 {
		cfg.MinOfflineDuration = 2 * time.Minute
	}
	g := &Generator{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x7e1e3e7a)),
		live:    newIndexSet(len(cfg.Channels)),
		offline: newIndexSet(len(cfg.Channels)),
		chatty:  newFenwick(len(cfg.Channels)),
	}
	for i, name := range cfg.Channels {
		g.channels = append(g.channels, &channelSim{name: name, key: []byte(name)})
		g.offline.add(i)
		g.starts = append(g.starts, i)
	}
	return g, nil
}

// Next generates the event that happens at the given time.
func (g *Generator) Next(at time.Time) Record {
	if len(g.starts) > 0 {
		i := g.starts[0]
		g.starts = g.starts[1:]
		return g.streamStart(i, at)
	}
	if g.live.len() == 0 {
		return g.streamStart(g.offline.items[g.rng.IntN(g.offline.len())], at)
	}
	txShare := shareTransaction
	if g.burst.left > 0 {
		txShare = shareTransactionBurst
	}
	// chat takes what the others leave, so a burst's extra transactions come out of chat
	u := g.rng.Float64()
	switch {
	case u < shareViewer:
		return g.viewerSample(g.live.items[g.rng.IntN(g.live.len())], at)
	case u < shareViewer+txShare:
		return g.transaction(at)
	case u < shareViewer+txShare+(1-shareChat-shareViewer-shareTransaction):
		return g.lifecycle(at)
	default:
		return g.chat(g.pickChatty(), at)
	}
}

func (g *Generator) pickChatty() int {
	if g.chatty.total <= 0 {
		return g.live.items[g.rng.IntN(g.live.len())]
	}
	return g.chatty.pick(g.rng.Int64N(g.chatty.total))
}

// touch refreshes a channel's weight after its state changed.
func (g *Generator) touch(i int, at time.Time) {
	c := g.channels[i]
	if !c.live {
		g.chatty.set(i, 0)
		return
	}
	w := int64(float64(max(c.chatters(), 1)) * c.hype(at))
	g.chatty.set(i, max(w, 1))
}

// stamp is the timestamp of an event generated at the given time, as the JSON carries it.
func (g *Generator) stamp(at time.Time) time.Time {
	if g.cfg.Jitter > 0 {
		at = at.Add(-time.Duration(g.rng.Int64N(int64(g.cfg.Jitter))))
	}
	return at.UTC().Truncate(timePrecision)
}

func (g *Generator) streamStart(i int, at time.Time) Record {
	c := g.channels[i]
	c.live = true
	c.changedAt = at
	c.title = titles[g.rng.IntN(len(titles))]
	c.category = categories[g.rng.IntN(len(categories))]
	c.viewers = minViewers + g.rng.IntN(700)
	c.chatRatio = 0.05 + 0.15*g.rng.Float64()
	c.hypeBoost = 0
	c.pendingRaid = 0
	g.offline.remove(i)
	g.live.add(i)
	g.touch(i, at)
	return g.meta(c, schemas.StreamStart, at, "", 0)
}

func (g *Generator) lifecycle(at time.Time) Record {
	// a channel that has been offline long enough may come back
	if g.offline.len() > 0 && g.rng.Float64() < 0.5 {
		i := g.offline.items[g.rng.IntN(g.offline.len())]
		if at.Sub(g.channels[i].changedAt) >= g.cfg.MinOfflineDuration {
			return g.streamStart(i, at)
		}
	}
	i := g.live.items[g.rng.IntN(g.live.len())]
	c := g.channels[i]
	u := g.rng.Float64()
	if u < 0.15 && at.Sub(c.changedAt) < g.cfg.MinStreamDuration {
		u = 1 // too early to end the stream: change the title instead
	}
	switch {
	case u < 0.15:
		c.live = false
		c.changedAt = at
		g.live.remove(i)
		g.offline.add(i)
		g.touch(i, at)
		if g.burst.channel == i {
			g.burst.left = 0
		}
		return g.meta(c, schemas.StreamEnd, at, "", 0)
	case u < 0.17: // raids are rare: a few per channel per hour at the default rate
		from := g.raider(i)
		n := 50 + g.rng.IntN(1450)
		c.pendingRaid += n
		c.hypeBoost = c.hype(at) - 1 + 3
		c.hypeAt = at
		g.touch(i, at)
		return g.meta(c, schemas.RaidIncoming, at, from, int64(n))
	default:
		c.title = titles[g.rng.IntN(len(titles))]
		if g.rng.Float64() < 0.3 {
			c.category = categories[g.rng.IntN(len(categories))]
		}
		return g.meta(c, schemas.TitleChange, at, "", 0)
	}
}

// raider picks who raids channel i: another live simulated channel if there is one, else an
// outside channel.
func (g *Generator) raider(i int) string {
	if g.live.len() > 1 && g.rng.Float64() < 0.5 {
		for range 4 {
			j := g.live.items[g.rng.IntN(g.live.len())]
			if j != i {
				return g.channels[j].name
			}
		}
	}
	return raiders[g.rng.IntN(len(raiders))]
}

func (g *Generator) viewerSample(i int, at time.Time) Record {
	c := g.channels[i]
	v := float64(c.viewers)
	switch u := g.rng.Float64(); {
	case c.pendingRaid > 0:
		v += float64(c.pendingRaid)
		c.pendingRaid = 0
	case u < 0.005: // spike: a clip went viral, a big play
		v *= 1.3 + 0.7*g.rng.Float64()
		c.hypeBoost = c.hype(at) - 1 + 1.5
		c.hypeAt = at
	case u < 0.01: // drop: a break, a boring segment
		v *= 0.5 + 0.3*g.rng.Float64()
	default: // random walk with a little pull back towards the middle of the range
		v += g.rng.NormFloat64()*math.Max(3, v*0.02) + (1000-v)*0.002
	}
	c.viewers = min(max(int(math.Round(v)), minViewers), maxViewers)
	c.chatRatio = min(max(c.chatRatio+0.005*g.rng.NormFloat64(), 0.05), 0.20)
	g.touch(i, at)
	sample := schemas.ViewerCount{
		EventID: g.uuid(), Channel: c.name,
		ViewerCount: int64(c.viewers), ChatterCount: int64(c.chatters()), Timestamp: g.stamp(at),
	}
	return Record{Topic: kafka.TopicViewer, Key: c.key, Time: at, Value: appendViewer(make([]byte, 0, 192), sample)}
}

func (g *Generator) chat(i int, at time.Time) Record {
	c := g.channels[i]
	hint := g.sentimentHint(c.hype(at))
	lines := chatLines[hint]
	text := lines[g.rng.IntN(len(lines))]

	var emoteBuf [3]string
	emotes := emoteBuf[:0]
	pool := neutralEmotes
	switch hint {
	case schemas.SentimentPositive, schemas.SentimentExcited:
		pool = positiveEmotes
	case schemas.SentimentNegative:
		pool = negativeEmotes
	}
	for n := g.emoteCount(hint); len(emotes) < n; {
		emotes = append(emotes, pool[g.rng.IntN(len(pool))])
	}

	var badgeBuf [2]schemas.Badge
	userBadges := badgeBuf[:0]
	if g.rng.Float64() < 0.30 {
		userBadges = append(userBadges, badges[0])
	}
	switch u := g.rng.Float64(); {
	case u < 0.03:
		userBadges = append(userBadges, badges[1])
	case u < 0.08:
		userBadges = append(userBadges, badges[2])
	case u < 0.09:
		userBadges = append(userBadges, badges[3])
	}
	// the new strings of the message share one allocation: id, then user name, then the text
	// with its emotes
	var scratch [256]byte
	strs := appendUUID(scratch[:0], g.uuidBytes())
	idEnd := len(strs)
	strs = g.appendUsername(strs, c)
	userEnd := len(strs)
	strs = append(strs, text...)
	for _, e := range emotes {
		strs = append(append(strs, ' '), e...)
	}
	all := string(strs)
	m := schemas.ChatMessage{
		MessageID: all[:idEnd], Channel: c.name, Username: all[idEnd:userEnd], Message: all[userEnd:],
		Emotes: emotes, Badges: userBadges, SentimentHint: hint, Timestamp: g.stamp(at),
	}
	return Record{Topic: kafka.TopicChat, Key: c.key, Time: at, Value: appendChat(make([]byte, 0, 320), m)}
}

func (g *Generator) emoteCount(hint schemas.Sentiment) int {
	u := g.rng.Float64()
	switch {
	case hint == schemas.SentimentExcited && u < 0.9, u < 0.25:
		return 1 + g.rng.IntN(3)
	default:
		return 0
	}
}

// sentimentHint draws the mood of a chat line; hype (raids, spikes) makes chat more excited.
func (g *Generator) sentimentHint(hype float64) schemas.Sentiment {
	u := g.rng.Float64() * (1 + (hype-1)*sentimentWeights[excitedHint])
	for k, w := range sentimentWeights {
		if k == excitedHint {
			w *= hype
		}
		if u < w {
			return sentimentHints[k]
		}
		u -= w
	}
	return sentimentHints[excitedHint]
}

// appendUsername draws a chatter from the channel's audience (a few regulars talk most) and
// appends the chatter's name to b.
func (g *Generator) appendUsername(b []byte, c *channelSim) []byte {
	audience := max(c.chatters(), 1) * 3
	idx := int(g.rng.ExpFloat64()*float64(audience)/4) % audience
	b = append(b, nameAdjectives[idx%len(nameAdjectives)]...)
	b = append(b, '_')
	b = append(b, nameNouns[(idx/len(nameAdjectives))%len(nameNouns)]...)
	return strconv.AppendInt(b, int64(idx), 10)
}

func (g *Generator) transaction(at time.Time) Record {
	var i int
	if g.burst.left > 0 && g.channels[g.burst.channel].live {
		i = g.burst.channel
		g.burst.left--
	} else {
		i = g.pickChatty()
		if g.rng.Float64() < 0.03 { // a hype train starts
			g.burst.channel, g.burst.left = i, 10+g.rng.IntN(16)
		}
	}
	c := g.channels[i]
	// id and user name share one allocation
	var scratch [64]byte
	strs := appendHex64(append(scratch[:0], "txn_"...), g.rng.Uint64())
	idEnd := len(strs)
	strs = g.appendUsername(strs, c)
	all := string(strs)
	t := schemas.Transaction{
		TransactionID: all[:idEnd], Channel: c.name, Username: all[idEnd:],
		Currency: schemas.DefaultCurrency, Timestamp: g.stamp(at),
	}
	var cents int64
	switch u := g.rng.Float64(); {
	case u < 0.40:
		t.TransactionType = schemas.TransactionDonation
		// most donations are small, a few are large: log-normal around $10, clamped to $1–$500
		cents = int64(math.Round(min(max(math.Exp(math.Log(10)+g.rng.NormFloat64()), 1), 500) * 100))
	case u < 0.70:
		t.TransactionType = schemas.TransactionSubscription
		t.Tier = g.tier()
		cents = tierCents[t.Tier]
	case u < 0.90:
		t.TransactionType = schemas.TransactionBits
		t.Bits = bitsChoices[g.rng.IntN(len(bitsChoices))]
		cents = t.Bits // one cent per bit
	default:
		t.TransactionType = schemas.TransactionGiftSub
		t.Tier = g.tier()
		t.GiftCount = giftChoices[g.rng.IntN(len(giftChoices))]
		cents = int64(t.GiftCount) * tierCents[t.Tier]
	}
	t.Amount = float64(cents) / 100 // AmountCents gives cents back exactly
	return Record{Topic: kafka.TopicTransactions, Key: c.key, Time: at, Value: appendTransaction(make([]byte, 0, 256), t)}
}

var (
	tierCents   = [4]int64{0, 499, 999, 2499}
	bitsChoices = []int64{100, 100, 100, 200, 500, 500, 1000, 1000, 5000, 10000}
	giftChoices = []int{1, 1, 1, 5, 5, 10, 20, 50}
)

func (g *Generator) tier() int {
	switch u := g.rng.Float64(); {
	case u < 0.85:
		return 1
	case u < 0.95:
		return 2
	default:
		return 3
	}
}

func (g *Generator) meta(c *channelSim, eventType schemas.StreamEventType, at time.Time, raidFrom string, raidViewers int64) Record {
	m := schemas.StreamMeta{
		EventID: g.uuid(), Channel: c.name, EventType: eventType, Title: c.title, Category: c.category,
		RaidFrom: raidFrom, RaidViewers: raidViewers, Timestamp: g.stamp(at),
	}
	return Record{Topic: kafka.TopicStreamMeta, Key: c.key, Time: at, Value: appendStreamMeta(make([]byte, 0, 320), m)}
}

// uuid draws a version 4 UUID from the seeded generator, in its text form.
func (g *Generator) uuid() string {
	var text [36]byte
	return string(appendUUID(text[:0], g.uuidBytes()))
}

// uuidBytes draws a version 4 UUID from the seeded generator, so ids are reproducible.
func (g *Generator) uuidBytes() [16]byte {
	var u [16]byte
	a, b := g.rng.Uint64(), g.rng.Uint64()
	for k := range 8 {
		u[k] = byte(a >> (8 * k))
		u[8+k] = byte(b >> (8 * k))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// GeneratedChannels names n channels channel_00001, channel_00002, ... for scale runs.
func GeneratedChannels(n int) []string {
	names := make([]string, n)
	for k := range names {
		names[k] = fmt.Sprintf("channel_%05d", k+1)
	}
	return names
}
