package window

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// The scenario and property tests drive a Partition the way the processor (aggregator) does:
// every record through Read, decoded events through Apply, CloseDue after each record, and
// crashes that restore the last flushed states and clock and redeliver from the last commit.

// Input topics in the tests (the Partition does not care about the names).
var testInputs = []string{"chat", "viewer", "transactions", "stream_meta"}

// record is one input record in a test log.
type record struct {
	topic     string
	offset    int64
	timestamp time.Time     // Kafka timestamp
	event     schemas.Event // nil: a marker (marker set) or a record that does not decode
	marker    bool
}

// driver feeds records to a Partition and writes down what comes out.
type driver struct {
	engine *Engine
	part   *Partition
	now    time.Time // processing time: only provisional emits and emitted_at depend on it
	out    []string  // what the scenario prints
	// crash recovery: the states and clock as of the last flush, the records read since the
	// last commit (redelivered after a crash), and how many of those the last flush covers
	// (the processor releases a record's commit only with the flush after it)
	flushed      map[string][]byte
	flushedClock []byte
	sinceCommit  []record
	flushedAt    int
	// results, for the property test: the final windows as a consumer keeps them (the
	// projector's rule: a higher version replaces, the late count only grows), and the records
	// judged late
	finals map[string]*pb.WindowAggregate // by window key
	late   map[string]bool                // by record key
}

func newDriver(e *Engine) *driver {
	d := &driver{engine: e, part: e.NewPartition(testInputs), finals: map[string]*pb.WindowAggregate{}, late: map[string]bool{}}
	d.flush()
	return d
}

func recordKey(r record) string { return fmt.Sprintf("%s#%d", r.topic, r.offset) }

func windowKey(a *pb.WindowAggregate) string {
	return a.Channel + "@" + a.WindowStart.AsTime().UTC().Format(time.RFC3339)
}

// read processes one record as the processor would.
func (d *driver) read(r record) {
	d.sinceCommit = append(d.sinceCommit, r)
	arrival := d.part.Read(r.topic, r.timestamp)
	if r.event != nil {
		ch := r.event.EventChannel()
		outcome, res, err := d.part.Apply(ch, r.topic, 0, r.offset, r.event, arrival, d.now)
		switch outcome {
		case Duplicate:
			d.printf("duplicate %s %s", ch, recordKey(r))
		case Refused:
			reason := "invalid_event"
			if strings.Contains(err.Error(), ErrFutureTimestamp.Error()) {
				reason = "future_timestamp"
			} else if strings.Contains(err.Error(), ErrPastTimestamp.Error()) {
				reason = "past_timestamp"
			}
			d.printf("dlq %s %s %s: %s", ch, recordKey(r), reason, strings.SplitN(err.Error(), ": ", 2)[1])
		case Late:
			d.late[recordKey(r)] = true
			d.printf("late %s %s %s: %s", ch, recordKey(r), r.event.EventTime().UTC().Format("15:04:05"), res.LateDetail)
		}
		d.emitted(res)
	}
	for _, e := range d.part.CloseDue(d.now) {
		d.emitted(e.Result)
	}
}

// emitted writes down finals, corrections and moments (provisional updates are not checked:
// they depend on processing time by design).
func (d *driver) emitted(res Result) {
	for _, a := range res.Aggregates {
		k := windowKey(a)
		held, ok := d.finals[k]
		switch {
		case a.LateCorrection:
			d.printf("correction %s %s late=%d", a.Channel, a.WindowStart.AsTime().UTC().Format("15:04"), a.LateEvents)
			if !ok {
				d.finals[k] = proto.Clone(a).(*pb.WindowAggregate)
			} else {
				held.LateEvents = max(held.LateEvents, a.LateEvents)
			}
		case a.Final:
			d.printf("final %s", describeFinal(a))
			if !ok || a.Version > held.Version {
				f := proto.Clone(a).(*pb.WindowAggregate)
				if ok {
					f.LateEvents = max(f.LateEvents, held.LateEvents)
				}
				d.finals[k] = f
			}
		}
	}
	for _, m := range res.Moments {
		d.printf("moment %s %s %s", m.Channel, strings.TrimPrefix(m.Kind.String(), "MOMENT_KIND_"), m.WindowStart.AsTime().UTC().Format("15:04"))
	}
}

func describeFinal(a *pb.WindowAggregate) string {
	s := fmt.Sprintf("%s %s events=%d chat=%d new=%d/%d viewers=%d tx=%d late=%d",
		a.Channel, a.WindowStart.AsTime().UTC().Format("15:04"), a.Events, a.Chat.GetMessages(),
		a.Chat.GetFirstTimeChatters(), a.Chat.GetFirstTimeMessages(),
		a.Viewers.GetSamples(), a.Transactions.GetTransactions(), a.LateEvents)
	if st := a.Status; st.GetLive() {
		s += " live"
	}
	return s
}

// commit commits the offsets the last flush released: a crash redelivers only later records.
func (d *driver) commit() {
	d.sinceCommit = d.sinceCommit[d.flushedAt:]
	d.flushedAt = 0
}

// flush keeps the states and clock as the processor's flush writes them.
func (d *driver) flush() {
	d.flushedAt = len(d.sinceCommit)
	d.flushed = map[string][]byte{}
	for ch, st := range d.part.Channels() {
		d.flushed[ch] = mustMarshal(st)
	}
	d.flushedClock = mustMarshal(d.part.Clock().Snapshot())
}

// crash loses everything since the last flush and redelivers everything since the last commit,
// as goka does after a restart or a rebalance.
func (d *driver) crash() {
	d.part = d.engine.NewPartition(testInputs)
	for ch, raw := range d.flushed {
		st := new(pb.ChannelState)
		mustUnmarshal(raw, st)
		d.part.Hold(ch, st)
	}
	clock := new(pb.PartitionClock)
	mustUnmarshal(d.flushedClock, clock)
	d.part.Clock().Restore(clock)
	redeliver := d.sinceCommit
	d.sinceCommit, d.flushedAt = nil, 0
	for _, r := range redeliver {
		d.read(r)
	}
}

// open lists the open windows of every channel, sorted.
func (d *driver) open() {
	var lines []string
	for ch, st := range d.part.Channels() {
		for _, w := range st.OpenWindows {
			lines = append(lines, fmt.Sprintf("open %s %s events=%d late=%d", ch, w.Aggregate.WindowStart.AsTime().UTC().Format("15:04"),
				w.Aggregate.Events, w.Aggregate.LateEvents))
		}
	}
	slices.Sort(lines)
	d.out = append(d.out, lines...)
	d.out = append(d.out, "frontier "+formatTime(d.part.Clock().Frontier()))
}

func (d *driver) printf(format string, args ...any) {
	d.out = append(d.out, fmt.Sprintf(format, args...))
}

// take returns what was written down since the last take.
func (d *driver) take() string {
	s := strings.Join(d.out, "\n")
	d.out = nil
	if s == "" {
		return "nothing\n"
	}
	return s + "\n"
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format("15:04:05.000")
}

func mustMarshal(m proto.Message) []byte {
	raw, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return raw
}

func mustUnmarshal(raw []byte, m proto.Message) {
	if err := proto.Unmarshal(raw, m); err != nil {
		panic(err)
	}
}
