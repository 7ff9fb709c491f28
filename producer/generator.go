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
	// Run tells apart the runs of one simulation: the channels (their sizes) come from Seed
	// alone, the events from Seed and Run, so a restarted run goes on with the same channels
	// but writes no event id again. 0: the events of Seed alone, as every earlier run wrote.
	Run uint64
	// MinStreamDuration keeps a stream live at least this long (event time) before it may end.
	MinStreamDuration time.Duration
	// MinOfflineDuration keeps a channel offline at least this long before it may start again.
	MinOfflineDuration time.Duration
	// MeanStream and MeanOffline are a stream's typical length and the typical gap between a
	// channel's streams (event time; each drawn per stream around them, docs/producer.md).
	MeanStream  time.Duration
	MeanOffline time.Duration
	// Jitter moves each event's timestamp back by up to this much, so events arrive slightly out
	// of order as they do from real clients.
	Jitter time.Duration
}

// The simulation's parameters; docs/producer.md gives what each is modelled on.
const (
	// shareViewer is the share of viewer samples among the events that are not due at a time of
	// their own (stream lifecycle, transactions); chat takes the rest.
	shareViewer = 0.20

	// channel sizes: a channel's typical live audience, log-uniform in this range
	minChannelSize = 150
	maxChannelSize = 4000

	defaultMeanStream  = 2 * time.Hour
	defaultMeanOffline = 45 * time.Minute
	streamSpread       = 0.35 // σ of a stream's log-length around the mean
	offlineSpread      = 0.5

	titleEvery = 40 * time.Minute  // mean gap between title changes of a live stream
	swingEvery = 150 * time.Minute // mean gap between audience jumps or drops of a live stream
	raidChance = 0.75              // a stream that ends raids another live channel this often

	// viewers drift as an Ornstein–Uhlenbeck process towards the channel's size (ramping up
	// over the first minutes of a stream): pulled back with this time constant, with this
	// much noise per √minute relative to the size
	viewerPull   = 8 * time.Minute
	viewerNoise  = 0.02
	rampUp       = 10 * time.Minute
	rampStartsAt = 0.25 // share of its size a stream starts with

	// transactionsPerViewerHour sets the revenue: with the mix below (mean ≈ $8) and the hype
	// trains it comes to about $0.08 per viewer-hour
	transactionsPerViewerHour = 0.0075
	trainChance               = 0.03 // a transaction starts a hype train this often
	trainGap                  = 8 * time.Second

	hypeHalfLife = 60 * time.Second
)

// channelSim is one simulated channel.
type channelSim struct {
	name        string
	key         []byte
	size        float64 // typical live audience
	live        bool
	changedAt   time.Time // when it last went live or offline
	nextChange  time.Time // when it next goes live or offline
	gens        [timerKinds]uint32
	title       string
	category    string
	viewers     float64
	sampledAt   time.Time // when viewers was last brought up to date
	chatRatio   float64   // chatters / viewers, 5–20%
	pendingRaid int       // raiders arrive with the next viewer sample
	hypeBoost   float64
	hypeAt      time.Time
	trainLeft   int // transactions left in the current hype train
}

func (c *channelSim) chatters() int { return int(math.Round(c.viewers * c.chatRatio)) }

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
// timestamps give byte-identical records. Things with a time of their own (a stream's start
// and end, raids, title changes, transactions, audience swings) come from per-channel timers
// in event time; the events between them are viewer samples and chat, so the producer's rate
// sets how busy chat is.
type Generator struct {
	cfg      Config
	rng      *rand.Rand
	channels []*channelSim
	live     *indexSet
	offline  *indexSet
	chatty   *fenwick // weight of each live channel for chat
	timers   timers
	queue    []func(at time.Time) Record // events to write before anything else
	started  bool
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

// NewGenerator validates the config and sets up the channels; where each is in its schedule is
// decided at the first event's time.
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
	if cfg.MeanStream == 0 {
		cfg.MeanStream = max(defaultMeanStream, cfg.MinStreamDuration)
	}
	if cfg.MeanOffline == 0 {
		cfg.MeanOffline = max(defaultMeanOffline, cfg.MinOfflineDuration)
	}
	g := &Generator{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x7e1e3e7a)),
		live:    newIndexSet(len(cfg.Channels)),
		offline: newIndexSet(len(cfg.Channels)),
		chatty:  newFenwick(len(cfg.Channels)),
	}
	for i, name := range cfg.Channels {
		size := math.Exp(math.Log(minChannelSize) + g.rng.Float64()*math.Log(maxChannelSize/minChannelSize))
		g.channels = append(g.channels, &channelSim{name: name, key: []byte(name), size: size})
		g.offline.add(i)
	}
	if cfg.Run != 0 {
		g.rng = rand.New(rand.NewPCG(cfg.Seed^cfg.Run, cfg.Run^0x7e1e3e7a))
	}
	return g, nil
}

// begin places every channel part way through a stream, as of the first event (its
// stream_start is written first): the ends are staggered from the start, and every channel has
// at least the minimum stream duration to go, so a run's first minutes see all of them live.
func (g *Generator) begin() {
	g.started = true
	for i, c := range g.channels {
		length := g.draw(g.cfg.MeanStream, streamSpread, g.cfg.MinStreamDuration)
		elapsed := min(time.Duration(g.rng.Float64()*float64(length)), length-g.cfg.MinStreamDuration)
		g.queue = append(g.queue, func(now time.Time) Record { return g.streamStart(i, now, now.Add(-elapsed), length) })
		// live already, so that chat can follow its stream_start at once
		c.live = true
		g.offline.remove(i)
		g.live.add(i)
	}
}

// draw is a duration log-normally spread around mean, at least floor.
func (g *Generator) draw(mean time.Duration, spread float64, floor time.Duration) time.Duration {
	return max(time.Duration(float64(mean)*math.Exp(spread*g.rng.NormFloat64()-spread*spread/2)), floor)
}

// exp is an exponentially distributed gap with the given mean.
func (g *Generator) exp(mean time.Duration) time.Duration {
	return time.Duration(g.rng.ExpFloat64() * float64(mean))
}

// schedule sets channel i's timer of a kind, replacing the pending one.
func (g *Generator) schedule(i int, kind timerKind, at time.Time) {
	c := g.channels[i]
	c.gens[kind]++
	if kind == timerLifecycle {
		c.nextChange = at
	}
	g.timers.push(timer{at: at, channel: i, kind: kind, gen: c.gens[kind]})
}

// cancel drops channel i's pending timer of a kind.
func (g *Generator) cancel(i int, kind timerKind) { g.channels[i].gens[kind]++ }

// Next generates the event that happens at the given time.
func (g *Generator) Next(at time.Time) Record {
	if !g.started {
		g.begin()
	}
	if len(g.queue) > 0 {
		next := g.queue[0]
		g.queue = g.queue[1:]
		return next(at)
	}
	for {
		t, ok := g.timers.popDue(at)
		if !ok {
			break
		}
		if t.gen != g.channels[t.channel].gens[t.kind] {
			continue // replaced or canceled
		}
		if r, ok := g.fire(t, at); ok {
			return r
		}
	}
	if g.live.len() == 0 {
		return g.startEarliest(at)
	}
	if g.rng.Float64() < shareViewer {
		return g.viewerSample(g.live.items[g.rng.IntN(g.live.len())], at)
	}
	return g.chat(g.pickChatty(), at)
}

// fire runs a due timer at at; it reports false when the timer wrote no event.
func (g *Generator) fire(t timer, at time.Time) (Record, bool) {
	i, c := t.channel, g.channels[t.channel]
	switch t.kind {
	case timerLifecycle:
		if !c.live {
			return g.streamStart(i, at, at, g.draw(g.cfg.MeanStream, streamSpread, g.cfg.MinStreamDuration)), true
		}
		if j, ok := g.raidTarget(i); ok {
			g.queue = append(g.queue, func(now time.Time) Record { return g.streamEnd(i, now) })
			return g.raid(i, j, at), true
		}
		return g.streamEnd(i, at), true
	case timerTitle:
		c.title = titles[g.rng.IntN(len(titles))]
		if g.rng.Float64() < 0.3 {
			c.category = categories[g.rng.IntN(len(categories))]
		}
		g.schedule(i, timerTitle, at.Add(g.exp(titleEvery)))
		return g.meta(c, schemas.TitleChange, at, "", 0), true
	case timerTransaction:
		return g.transaction(i, at), true
	default: // timerSwing
		g.updateViewers(c, at)
		if g.rng.Float64() < 0.5 { // a clip goes viral, a big play
			c.viewers *= 1.35 + 0.5*g.rng.Float64()
			c.hypeBoost = c.hype(at) - 1 + 1.5
			c.hypeAt = at
		} else { // a break, a boring segment
			c.viewers *= 0.5 + 0.2*g.rng.Float64()
		}
		g.touch(i, at)
		g.schedule(i, timerSwing, at.Add(g.exp(swingEvery)))
		return Record{}, false
	}
}

// startEarliest starts, when no channel is live, the one due to start next, early: the
// producer's rate asks for events.
func (g *Generator) startEarliest(at time.Time) Record {
	first := g.offline.items[0]
	for _, i := range g.offline.items[1:] {
		if g.channels[i].nextChange.Before(g.channels[first].nextChange) {
			first = i
		}
	}
	return g.streamStart(first, at, at, g.draw(g.cfg.MeanStream, streamSpread, g.cfg.MinStreamDuration))
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

// streamStart makes channel i live at at, in a stream that began at began (earlier for a
// channel found live when the simulation starts) and lasts length.
func (g *Generator) streamStart(i int, at, began time.Time, length time.Duration) Record {
	c := g.channels[i]
	c.live = true
	c.changedAt = began
	c.title = titles[g.rng.IntN(len(titles))]
	c.category = categories[g.rng.IntN(len(categories))]
	c.viewers = c.size * ramp(at.Sub(began))
	c.sampledAt = at
	c.chatRatio = 0.05 + 0.15*g.rng.Float64()
	c.hypeBoost = 0
	c.pendingRaid = 0
	c.trainLeft = 0
	g.offline.remove(i)
	g.live.add(i)
	g.touch(i, at)
	g.schedule(i, timerLifecycle, maxTime(began.Add(length), at.Add(time.Minute)))
	g.schedule(i, timerTitle, at.Add(g.exp(titleEvery)))
	g.schedule(i, timerSwing, at.Add(g.exp(swingEvery)))
	g.scheduleTransaction(i, at)
	return g.meta(c, schemas.StreamStart, at, "", 0)
}

func (g *Generator) streamEnd(i int, at time.Time) Record {
	c := g.channels[i]
	c.live = false
	c.changedAt = at
	g.live.remove(i)
	g.offline.add(i)
	g.touch(i, at)
	g.cancel(i, timerTitle)
	g.cancel(i, timerSwing)
	g.cancel(i, timerTransaction)
	g.schedule(i, timerLifecycle, at.Add(g.draw(g.cfg.MeanOffline, offlineSpread, g.cfg.MinOfflineDuration)))
	return g.meta(c, schemas.StreamEnd, at, "", 0)
}

// raidTarget picks the live channel that channel i, ending its stream, raids, if it raids.
func (g *Generator) raidTarget(i int) (int, bool) {
	if g.live.len() < 2 || g.rng.Float64() >= raidChance {
		return 0, false
	}
	for {
		if j := g.live.items[g.rng.IntN(g.live.len())]; j != i {
			return j, true
		}
	}
}

// raid sends part of channel i's audience to channel j: a raid_incoming on j, whose raiders
// show up in its next viewer sample and make its chat excited.
func (g *Generator) raid(i, j int, at time.Time) Record {
	from, to := g.channels[i], g.channels[j]
	g.updateViewers(from, at)
	n := max(int(math.Round(from.viewers*(0.3+0.4*g.rng.Float64()))), 1)
	to.pendingRaid += n
	to.hypeBoost = to.hype(at) - 1 + 3
	to.hypeAt = at
	g.touch(j, at)
	return g.meta(to, schemas.RaidIncoming, at, from.name, int64(n))
}

// ramp is the share of its size a stream's audience tends to, elapsed into the stream.
func ramp(elapsed time.Duration) float64 {
	return 1 - (1-rampStartsAt)*math.Exp(-elapsed.Seconds()/rampUp.Seconds())
}

// updateViewers moves a channel's audience along its drift from the last update to at.
func (g *Generator) updateViewers(c *channelSim, at time.Time) {
	dt := at.Sub(c.sampledAt)
	if dt <= 0 {
		return
	}
	c.sampledAt = at
	target := c.size * ramp(at.Sub(c.changedAt))
	pull := 1 - math.Exp(-dt.Seconds()/viewerPull.Seconds())
	c.viewers += (target-c.viewers)*pull + viewerNoise*c.size*math.Sqrt(dt.Minutes())*g.rng.NormFloat64()
	c.viewers = max(c.viewers, 1)
}

func (g *Generator) viewerSample(i int, at time.Time) Record {
	c := g.channels[i]
	g.updateViewers(c, at)
	if c.pendingRaid > 0 {
		c.viewers += float64(c.pendingRaid)
		c.pendingRaid = 0
	}
	c.chatRatio = min(max(c.chatRatio+0.005*g.rng.NormFloat64(), 0.05), 0.20)
	g.touch(i, at)
	viewers := int64(math.Round(c.viewers))
	sample := schemas.ViewerCount{
		EventID: g.uuid(), Channel: c.name,
		ViewerCount: viewers, ChatterCount: int64(c.chatters()), Timestamp: g.stamp(at),
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

// scheduleTransaction sets channel i's next transaction: soon within a hype train, else at a
// rate in proportion to its audience.
func (g *Generator) scheduleTransaction(i int, at time.Time) {
	c := g.channels[i]
	if c.trainLeft > 0 {
		g.schedule(i, timerTransaction, at.Add(g.exp(trainGap)))
		return
	}
	perHour := max(c.viewers, 1) * transactionsPerViewerHour
	g.schedule(i, timerTransaction, at.Add(g.exp(time.Duration(float64(time.Hour)/perHour))))
}

func (g *Generator) transaction(i int, at time.Time) Record {
	g.updateViewers(g.channels[i], at)
	switch c := g.channels[i]; {
	case c.trainLeft > 0:
		c.trainLeft--
	case g.rng.Float64() < trainChance: // a hype train starts
		c.trainLeft = 10 + g.rng.IntN(16)
		c.hypeBoost = c.hype(at) - 1 + 1
		c.hypeAt = at
	}
	g.scheduleTransaction(i, at)
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
	case u < 0.12:
		t.TransactionType = schemas.TransactionDonation
		// most donations are small, a few are large: log-normal around $5, clamped to $1–$500
		cents = int64(math.Round(min(max(math.Exp(math.Log(5)+g.rng.NormFloat64()), 1), 500) * 100))
	case u < 0.62:
		t.TransactionType = schemas.TransactionSubscription
		t.Tier = g.tier()
		cents = tierCents[t.Tier]
	case u < 0.92:
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
	bitsChoices = []int64{100, 100, 100, 200, 300, 500, 500, 1000, 1000, 5000}
	giftChoices = []int{1, 1, 1, 1, 5, 5, 10}
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
