package gateway

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// csvMediaType is the content type of ExportWindows' file.
const csvMediaType = "text/csv; charset=utf-8"

// windowColumn is one column of the CSV export: its header and its cell of a bucket.
type windowColumn struct {
	name string
	cell func(*pb.WindowMetrics) string
}

// windowColumns are the export's columns, in order: the only list of them (the header row, the
// cells and docs/api.md's table follow it). Cells are what a spreadsheet reads as typed values
// in any locale setting that takes a dot decimal: timestamps RFC 3339 in UTC, integers and
// decimals without thousands separators, true/false, money in integer US cents.
var windowColumns = []windowColumn{
	{"channel", func(m *pb.WindowMetrics) string { return m.GetChannel() }},
	{"window_start", func(m *pb.WindowMetrics) string { return csvTime(m.GetWindowStart().AsTime()) }},
	{"window_end", func(m *pb.WindowMetrics) string { return csvTime(m.GetWindowEnd().AsTime()) }},
	{"final", func(m *pb.WindowMetrics) string { return strconv.FormatBool(m.GetFinal()) }},
	{"windows", func(m *pb.WindowMetrics) string { return csvInt(m.GetWindows()) }},
	{"live", func(m *pb.WindowMetrics) string { return strconv.FormatBool(m.GetLive()) }},
	{"events", func(m *pb.WindowMetrics) string { return csvInt(m.GetEvents()) }},
	{"late_events", func(m *pb.WindowMetrics) string { return csvInt(m.GetLateEvents()) }},
	{"viewer_samples", func(m *pb.WindowMetrics) string { return csvInt(m.GetViewers().GetSamples()) }},
	{"viewers_avg", func(m *pb.WindowMetrics) string { return csvFloat(m.GetViewers().GetAvg()) }},
	{"viewers_min", func(m *pb.WindowMetrics) string { return csvInt(m.GetViewers().GetMin()) }},
	{"viewers_max", func(m *pb.WindowMetrics) string { return csvInt(m.GetViewers().GetMax()) }},
	{"viewers_last", func(m *pb.WindowMetrics) string { return csvInt(m.GetViewers().GetLast()) }},
	{"chatters_avg", func(m *pb.WindowMetrics) string { return csvFloat(m.GetViewers().GetChattersAvg()) }},
	{"chatters_max", func(m *pb.WindowMetrics) string { return csvInt(m.GetViewers().GetChattersMax()) }},
	{"chat_messages", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetMessages()) }},
	{"unique_chatters", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetUniqueChatters()) }},
	{"messages_per_chatter", func(m *pb.WindowMetrics) string { return csvFloat(m.GetChat().GetMessagesPerChatter()) }},
	{"messages_per_minute", func(m *pb.WindowMetrics) string { return csvFloat(m.GetChat().GetMessagesPerMinute()) }},
	{"first_time_chatters", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetFirstTimeChatters()) }},
	{"first_time_messages", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetFirstTimeMessages()) }},
	{"emote_uses", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetEmoteUses()) }},
	{"sentiment_average", func(m *pb.WindowMetrics) string { return csvFloat(m.GetChat().GetSentiment().GetAverage()) }},
	{"sentiment_scored", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetSentiment().GetScoredMessages()) }},
	{"sentiment_positive", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetSentiment().GetPositive()) }},
	{"sentiment_negative", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetSentiment().GetNegative()) }},
	{"sentiment_neutral", func(m *pb.WindowMetrics) string { return csvInt(m.GetChat().GetSentiment().GetNeutral()) }},
	{"donations", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetDonations().GetCount()) }},
	{"donation_cents", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetDonations().GetAmountCents()) }},
	{"subscriptions", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetSubscriptions().GetCount()) }},
	{"sub_tier1", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetSubscriptions().GetTier1()) }},
	{"sub_tier2", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetSubscriptions().GetTier2()) }},
	{"sub_tier3", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetSubscriptions().GetTier3()) }},
	{"subscription_cents", func(m *pb.WindowMetrics) string {
		return csvInt(m.GetTransactions().GetSubscriptions().GetAmountCents())
	}},
	{"bits_count", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetBits().GetCount()) }},
	{"bits", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetBits().GetBits()) }},
	{"bits_cents", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetBits().GetAmountCents()) }},
	{"gift_subs", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetGiftSubs().GetCount()) }},
	{"gifted", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetGiftSubs().GetGifted()) }},
	{"gift_sub_cents", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetGiftSubs().GetAmountCents()) }},
	{"transactions", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetTransactions()) }},
	{"revenue_cents", func(m *pb.WindowMetrics) string { return csvInt(m.GetTransactions().GetRevenueCents()) }},
	{"top_emotes", func(m *pb.WindowMetrics) string { return csvEmotes(m.GetChat().GetTopEmotes()) }},
}

func csvTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func csvInt(n int64) string { return strconv.FormatInt(n, 10) }

// csvFloat is the shortest decimal that reads back as f, never in exponent form.
func csvFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// csvEmotes is a bucket's top emotes in one cell: "emote=count" pairs, most used first,
// separated by ", " (encoding/csv then quotes the cell): "PogChamp=12, Kappa=9".
func csvEmotes(emotes []*pb.EmoteCount) string {
	parts := make([]string, len(emotes))
	for k, e := range emotes {
		parts[k] = e.GetEmote() + "=" + csvInt(e.GetCount())
	}
	return strings.Join(parts, ", ")
}

// csvChunkBytes is how much CSV a chunk of the export stream carries: rows are sent as they
// come from PostgreSQL, a chunk at a time.
const csvChunkBytes = 32 << 10

// csvChunker writes the export's rows as CSV and hands them on in chunks of about
// csvChunkBytes.
type csvChunker struct {
	buf    bytes.Buffer
	w      *csv.Writer
	record []string
	send   func([]byte) error
}

func newCSVChunker(send func([]byte) error) *csvChunker {
	c := &csvChunker{send: send, record: make([]string, len(windowColumns))}
	c.w = csv.NewWriter(&c.buf)
	return c
}

// header writes the header row.
func (c *csvChunker) header() error {
	for k, col := range windowColumns {
		c.record[k] = col.name
	}
	return c.write()
}

// row writes one bucket's row.
func (c *csvChunker) row(m *pb.WindowMetrics) error {
	for k, col := range windowColumns {
		c.record[k] = col.cell(m)
	}
	return c.write()
}

func (c *csvChunker) write() error {
	if err := c.w.Write(c.record); err != nil {
		return fmt.Errorf("write CSV row: %w", err)
	}
	if c.buf.Len() < csvChunkBytes {
		return nil
	}
	return c.flush()
}

// flush sends what is buffered.
func (c *csvChunker) flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	if c.buf.Len() == 0 {
		return nil
	}
	// send gets its own copy: the buffer is reused for the next chunk
	err := c.send(bytes.Clone(c.buf.Bytes()))
	c.buf.Reset()
	return err
}
