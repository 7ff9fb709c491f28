package gateway

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestCSVCells(t *testing.T) {
	kolkata := time.FixedZone("IST", 5*3600+1800)
	for _, tc := range []struct{ name, got, want string }{
		{"a time in another zone is written in UTC", csvTime(time.Date(2026, 12, 1, 15, 30, 0, 0, kolkata)), "2026-12-01T10:00:00Z"},
		{"sub-second windows keep their fraction", csvTime(time.Date(2026, 12, 1, 10, 0, 5, 500_000_000, time.UTC)), "2026-12-01T10:00:05.5Z"},
		{"large integers have no separators", csvInt(1234567890), "1234567890"},
		{"negative integers", csvInt(-42), "-42"},
		{"decimals use a dot", csvFloat(1234.5), "1234.5"},
		{"large decimals are not in exponent form", csvFloat(1e21), "1000000000000000000000"},
		{"small decimals are not in exponent form", csvFloat(0.000001), "0.000001"},
		{"whole decimals", csvFloat(3), "3"},
		{"no emotes", csvEmotes(nil), ""},
		{"emotes, most used first", csvEmotes([]*pb.EmoteCount{{Emote: "PogChamp", Count: 12}, {Emote: "Kappa", Count: 9}}), "PogChamp=12, Kappa=9"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestCSVColumnsAreNamedOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range windowColumns {
		if seen[c.name] || c.name == "" || strings.ToLower(c.name) != c.name || strings.ContainsAny(c.name, " ,\"") {
			t.Errorf("column %q: empty, repeated or not a plain lower-case name", c.name)
		}
		seen[c.name] = true
	}
}

// TestCSVChunks: the chunks, concatenated, are one CSV file with the header and every row,
// quoted as CSV quotes; no chunk is much larger than csvChunkBytes.
func TestCSVChunks(t *testing.T) {
	var chunks [][]byte
	out := newCSVChunker(func(b []byte) error {
		chunks = append(chunks, b)
		return nil
	})
	if err := out.header(); err != nil {
		t.Fatal(err)
	}
	const rows = 2000
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for k := range rows {
		m := &pb.WindowMetrics{
			Channel:     "demo_stream",
			WindowStart: timestamppb.New(start.Add(time.Duration(k) * time.Minute)),
			WindowEnd:   timestamppb.New(start.Add(time.Duration(k+1) * time.Minute)),
			Final:       true,
			Chat: &pb.ChatMetrics{Messages: int64(k), TopEmotes: []*pb.EmoteCount{
				{Emote: `say "hi"`, Count: 2}, {Emote: "Kappa", Count: 1}}},
		}
		if err := out.row(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.flush(); err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 2 {
		t.Fatalf("%d chunks for %d rows; want the rows sent as they come", len(chunks), rows)
	}
	for k, c := range chunks {
		if len(c) > csvChunkBytes+8<<10 {
			t.Errorf("chunk %d is %d bytes", k, len(c))
		}
	}
	records, err := csv.NewReader(bytes.NewReader(bytes.Join(chunks, nil))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != rows+1 {
		t.Fatalf("%d records, want the header and %d rows", len(records), rows)
	}
	header := make([]string, len(windowColumns))
	for k, c := range windowColumns {
		header[k] = c.name
	}
	if !slices.Equal(records[0], header) {
		t.Errorf("header %v, want %v", records[0], header)
	}
	emotes := slices.Index(header, "top_emotes")
	if got := records[rows][emotes]; got != `say "hi"=2, Kappa=1` {
		t.Errorf("top_emotes read back as %q", got)
	}
	if got := records[rows][slices.Index(header, "chat_messages")]; got != "1999" {
		t.Errorf("the last row's chat_messages %q, want 1999", got)
	}
}

// BenchmarkCSVRows: the cost of a row of the export once PostgreSQL has returned its bucket.
func BenchmarkCSVRows(b *testing.B) {
	m := &pb.WindowMetrics{
		Channel: "demo_stream", WindowStart: timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
		WindowEnd: timestamppb.New(time.Date(2026, 12, 1, 10, 1, 0, 0, time.UTC)), Final: true, Windows: 1, Live: true,
		Viewers: &pb.ViewerStats{Samples: 12, Avg: 3295.25, Min: 3201, Max: 3390, Last: 3300},
		Chat: &pb.ChatMetrics{Messages: 1019, UniqueChatters: 412, MessagesPerChatter: 2.4733, MessagesPerMinute: 1019,
			Sentiment: &pb.SentimentStats{Average: 0.137, ScoredMessages: 800}},
		Transactions: &pb.TransactionStats{RevenueCents: 3703293, Transactions: 12},
	}
	for k := range 10 {
		m.Chat.TopEmotes = append(m.Chat.TopEmotes, &pb.EmoteCount{Emote: "Emote" + csvInt(int64(k)), Count: int64(100 - k)})
	}
	var sent int
	out := newCSVChunker(func(data []byte) error {
		sent += len(data)
		return nil
	})
	b.ReportAllocs()
	for b.Loop() {
		if err := out.row(m); err != nil {
			b.Fatal(err)
		}
	}
	if err := out.flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(sent)/float64(b.N), "bytes/row")
}
