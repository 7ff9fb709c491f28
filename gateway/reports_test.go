package gateway_test

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/producer"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// TestStreamReportsAndExports runs the pipeline over a seeded run of short streams (several
// sessions a channel, some ended, some live), then checks every session's report against its
// windows, recomputed here from ListWindowMetrics and the window rows, and the CSV exports of
// sessions and of a range over REST and gRPC, with and without a bearer token.
func TestStreamReportsAndExports(t *testing.T) {
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	p := startPipelineWith(t, producer.RunConfig{
		Sim: producer.Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe"}, Seed: 31,
			MeanStream: 90 * time.Second, MinStreamDuration: 45 * time.Second,
			MeanOffline: 40 * time.Second, MinOfflineDuration: 20 * time.Second},
		Count: 15_000, StartTime: start, TimeStep: 20 * time.Millisecond, Logger: kafkatest.Quiet(),
	}, time.Hour, shortWindows)
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := pb.NewTelemetraServiceClient(conn)
	pool, err := pgxpool.New(ctx, p.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	var sessions []*pb.StreamSession
	for _, channel := range []string{"demo_stream", "gaming", "cozy_cafe"} {
		resp, err := client.ListStreamSessions(ctx, &pb.ListStreamSessionsRequest{Parent: "channels/" + channel,
			StartTime: timestamppb.New(p.start), EndTime: timestamppb.New(p.end), PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, resp.GetSessions()...)
	}
	// The projector takes a session's ended_at from the channel's row, which a batch holding the
	// next session's start has already moved on: in a run replayed this fast, every session
	// reads as live (views/projector refreshSessions). The checks below hold either way.
	if len(sessions) < 4 {
		t.Fatalf("%d sessions, want several", len(sessions))
	}
	const ended = 0 // the newest session of demo_stream

	t.Run("a report's figures are its windows'", func(t *testing.T) {
		for _, s := range sessions {
			t.Run(s.GetName(), func(t *testing.T) { checkReport(t, client, pool, p, s) })
		}
	})
	t.Run("CSV of a session over REST", func(t *testing.T) {
		s := sessions[ended]
		report, err := client.GetStreamReport(ctx, &pb.GetStreamReportRequest{Name: s.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		id := s.GetName()[strings.LastIndexByte(s.GetName(), '/')+1:]
		resp := httpGet(t, "http://"+p.httpAddr+"/v1/channels/"+s.GetChannel()+"/metrics:export?session="+id+"&include_provisional=true", "")
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("HTTP %d %s: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		wantName := regexp.MustCompile(`^attachment; filename="` + s.GetChannel() + `_session_` + id + `_\d{8}T\d{6}Z_\d{8}T\d{6}Z_1m\.csv"$`)
		if d := resp.Header.Get("Content-Disposition"); !wantName.MatchString(d) {
			t.Errorf("Content-Disposition %q, want %s", d, wantName)
		}
		rows := checkCSV(t, body)
		if int64(len(rows)) != report.GetWindows() {
			t.Errorf("%d rows, the report has %d windows", len(rows), report.GetWindows())
		}
		if got := sumColumn(t, rows, "chat_messages"); got != report.GetChat().GetMessages() {
			t.Errorf("chat_messages add up to %d, the report's %d", got, report.GetChat().GetMessages())
		}
		if got := sumColumn(t, rows, "revenue_cents"); got != report.GetTransactions().GetRevenueCents() {
			t.Errorf("revenue_cents add up to %d, the report's %d", got, report.GetTransactions().GetRevenueCents())
		}
		head := httpGet(t, "http://"+p.httpAddr+"/v1/channels/"+s.GetChannel()+"/metrics:export?session="+id, "")
		readAll(t, head)
		if head.StatusCode != http.StatusOK {
			t.Errorf("the export without provisional windows: HTTP %d", head.StatusCode)
		}
	})
	t.Run("CSV of a range over gRPC", func(t *testing.T) {
		req := &pb.ExportWindowsRequest{Parent: "channels/demo_stream", StartTime: timestamppb.New(p.start),
			EndTime: timestamppb.New(p.end), Resolution: pb.Resolution_RESOLUTION_FIVE_MINUTES}
		stream, err := client.ExportWindows(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var file []byte
		for k := 0; ; k++ {
			chunk, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: "text/csv; charset=utf-8", false: ""}[k == 0]; chunk.GetContentType() != want {
				t.Errorf("chunk %d has the content type %q, want %q", k, chunk.GetContentType(), want)
			}
			file = append(file, chunk.GetData()...)
		}
		md, _ := stream.Header()
		wantName := fmt.Sprintf(`attachment; filename="demo_stream_%s_%s_5m.csv"`, p.start.UTC().Format("20060102T150405Z"), p.end.UTC().Format("20060102T150405Z"))
		if got := md.Get("content-disposition"); len(got) != 1 || got[0] != wantName {
			t.Errorf("content-disposition %v, want %s", got, wantName)
		}
		rows := checkCSV(t, file)
		buckets, err := client.ListWindowMetrics(ctx, &pb.ListWindowMetricsRequest{Parent: req.GetParent(), StartTime: req.GetStartTime(),
			EndTime: req.GetEndTime(), Resolution: req.GetResolution(), PageSize: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(buckets.GetMetrics()) || len(rows) == 0 {
			t.Fatalf("%d rows, ListWindowMetrics has %d buckets", len(rows), len(buckets.GetMetrics()))
		}
		if got, want := sumColumn(t, rows, "chat_messages"), p.want["demo_stream"].Chat; got != want {
			t.Errorf("chat_messages add up to %d, the producer sent %d", got, want)
		}
	})
	t.Run("unknown and malformed sessions", func(t *testing.T) {
		_, err := client.GetStreamReport(ctx, &pb.GetStreamReportRequest{Name: "channels/demo_stream/sessions/1"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("an unknown session: %v, want NotFound", err)
		}
		for _, name := range []string{"channels/demo_stream", "channels/demo_stream/sessions/", "channels/demo_stream/sessions/x1",
			"channels/Demo/sessions/1", "sessions/1", "channels/demo_stream/sessions/1/report"} {
			if _, err := client.GetStreamReport(ctx, &pb.GetStreamReportRequest{Name: name}); status.Code(err) != codes.InvalidArgument {
				t.Errorf("name %q: %v, want InvalidArgument", name, err)
			}
		}
		for target, want := range map[string]int{
			"/v1/channels/demo_stream/sessions/1/report":              http.StatusNotFound,
			"/v1/channels/demo_stream/metrics:export?session=1":       http.StatusNotFound,
			"/v1/channels/no_such_channel/metrics:export":             http.StatusNotFound,
			"/v1/channels/demo_stream/metrics:export?session=x":       http.StatusBadRequest,
			"/v1/channels/demo_stream/metrics:export?resolution=nope": http.StatusBadRequest,
		} {
			resp := httpGet(t, "http://"+p.httpAddr+target, "")
			body := readAll(t, resp)
			if resp.StatusCode != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: HTTP %d %s %s, want %d with a JSON status", target, resp.StatusCode, resp.Header.Get("Content-Type"), body, want)
			}
		}
	})
	t.Run("with a bearer token", func(t *testing.T) {
		// on a broker of its own: history calls read only the database
		srv := startGatewayWithoutHistory(t, gateway.Config{DatabaseURL: p.dbURL, AuthToken: "s3cret"})
		s := sessions[ended]
		id := s.GetName()[strings.LastIndexByte(s.GetName(), '/')+1:]
		for _, target := range []string{"/v1/" + s.GetName() + "/report", "/v1/channels/" + s.GetChannel() + "/metrics:export?session=" + id} {
			resp := httpGet(t, "http://"+srv.HTTPAddr()+target, "")
			readAll(t, resp)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s without the token: HTTP %d, want 401", target, resp.StatusCode)
			}
			resp = httpGet(t, "http://"+srv.HTTPAddr()+target, "Bearer s3cret")
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s with the token: HTTP %d %.300s", target, resp.StatusCode, body)
			}
		}
		authConn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer authConn.Close()
		stream, err := pb.NewTelemetraServiceClient(authConn).ExportWindows(ctx, &pb.ExportWindowsRequest{Parent: "channels/" + s.GetChannel(), Session: id})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("ExportWindows without the token: %v, want Unauthenticated", err)
		}
		authCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer s3cret")
		if _, err := pb.NewTelemetraServiceClient(authConn).GetStreamReport(authCtx, &pb.GetStreamReportRequest{Name: s.GetName()}); err != nil {
			t.Errorf("GetStreamReport with the token: %v", err)
		}
	})
}

// checkReport recomputes the session's report from its windows and compares.
func checkReport(t *testing.T, client pb.TelemetraServiceClient, pool *pgxpool.Pool, p *pipeline, s *pb.StreamSession) {
	asked := time.Now()
	report, err := client.GetStreamReport(ctx, &pb.GetStreamReportRequest{Name: s.GetName(), TopEmotesLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	id := s.GetName()[strings.LastIndexByte(s.GetName(), '/')+1:]
	// the session's windows are consecutive: the ListWindowMetrics range from its first to its
	// last holds them all and no other
	var first, last time.Time
	var count int64
	var changes []*pb.StreamChange
	rows, err := pool.Query(ctx, `SELECT window_start, title, category FROM window_aggregates
		WHERE channel = $1 AND session_id = $2 ORDER BY window_start`, s.GetChannel(), id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var at time.Time
		var title, category string
		if err := rows.Scan(&at, &title, &category); err != nil {
			t.Fatal(err)
		}
		if count == 0 {
			first = at
		}
		last, count = at, count+1
		if n := len(changes); n == 0 || changes[n-1].GetTitle() != title || changes[n-1].GetCategory() != category {
			changes = append(changes, &pb.StreamChange{At: timestamppb.New(at), Title: title, Category: category})
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	listed, err := client.ListWindowMetrics(ctx, &pb.ListWindowMetricsRequest{Parent: "channels/" + s.GetChannel(),
		StartTime: timestamppb.New(first), EndTime: timestamppb.New(last.Add(time.Microsecond)), // PostgreSQL keeps microseconds
		IncludeProvisional: true, PageSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	windows := listed.GetMetrics()
	if int64(len(windows)) != count || report.GetWindows() != count {
		t.Fatalf("ListWindowMetrics has %d windows, the table %d, the report %d", len(windows), count, report.GetWindows())
	}

	var samples, viewerSum, peak, messages, firstTime, scored, largestChatters, sumChatters int64
	var hours, scoreSum float64
	emotes := map[string]int64{}
	revenue := &pb.TransactionStats{Donations: &pb.DonationStats{}, Subscriptions: &pb.SubscriptionStats{},
		Bits: &pb.BitsStats{}, GiftSubs: &pb.GiftSubStats{}}
	for _, w := range windows {
		v := w.GetViewers()
		samples += v.GetSamples()
		viewerSum += v.GetViewerSum()
		if v.GetSamples() > 0 {
			peak = max(peak, v.GetMax())
			hours += float64(v.GetViewerSum()) / float64(v.GetSamples()) * w.GetWindowEnd().AsTime().Sub(w.GetWindowStart().AsTime()).Hours()
		}
		c := w.GetChat()
		messages += c.GetMessages()
		firstTime += c.GetFirstTimeChatters()
		scored += c.GetSentiment().GetScoredMessages()
		scoreSum += c.GetSentiment().GetScoreSum()
		largestChatters = max(largestChatters, c.GetUniqueChatters())
		sumChatters += c.GetUniqueChatters()
		for _, e := range c.GetTopEmotes() {
			emotes[e.GetEmote()] += e.GetCount()
		}
		addTransactions(revenue, w.GetTransactions())
	}
	var topEmotes []*pb.EmoteCount
	for e, n := range emotes {
		topEmotes = append(topEmotes, &pb.EmoteCount{Emote: e, Count: n})
	}
	slices.SortFunc(topEmotes, func(a, b *pb.EmoteCount) int {
		return cmp.Or(cmp.Compare(b.GetCount(), a.GetCount()), cmp.Compare(a.GetEmote(), b.GetEmote()))
	})
	topEmotes = topEmotes[:min(len(topEmotes), 100)]

	chat := report.GetChat()
	started, duration := s.GetStartedAt().AsTime(), report.GetSession().GetDuration().AsDuration()
	if e := s.GetEndedAt(); e != nil {
		if want := e.AsTime().Sub(started); duration != want {
			t.Errorf("duration %s, want ended_at - started_at = %s", duration, want)
		}
	} else if end := started.Add(duration); end.Before(asked.Add(-time.Second)) || end.After(answered.Add(time.Second)) {
		t.Errorf("a live session's duration %s ends at %s, not when it was asked (%s)", duration, end, asked)
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"average viewers", report.GetAvgViewers(), float64(viewerSum) / float64(samples)},
		{"hours watched", report.GetHoursWatched(), hours},
		{"sentiment", chat.GetSentiment().GetAverage(), scoreSum / float64(max(scored, 1))},
		{"messages per chatter", chat.GetMessagesPerChatter(), float64(messages) / float64(chat.GetUniqueChatters())},
	} {
		if math.Abs(c.got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s %v, recomputed %v", c.what, c.got, c.want)
		}
	}
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"peak viewers", report.GetPeakViewers(), peak},
		{"chat messages", chat.GetMessages(), messages},
		{"first-time chatters", chat.GetFirstTimeChatters(), firstTime},
		{"the session's unique chatters", report.GetSession().GetUniqueChatters(), chat.GetUniqueChatters()},
		{"the session's chat messages", report.GetSession().GetChatMessages(), messages},
		{"the session's peak viewers", report.GetSession().GetPeakViewers(), peak},
	} {
		if c.got != c.want {
			t.Errorf("%s %d, recomputed %d", c.what, c.got, c.want)
		}
	}
	if u := chat.GetUniqueChatters(); messages > 0 && (u < largestChatters || u > sumChatters) {
		t.Errorf("unique chatters %d, outside [largest window's %d, sum of windows' %d]", u, largestChatters, sumChatters)
	}
	if !proto.Equal(report.GetTransactions(), revenue) {
		t.Errorf("revenue by type %v, recomputed %v", report.GetTransactions(), revenue)
	}
	if !equalProtos(chat.GetTopEmotes(), topEmotes) {
		t.Errorf("top emotes %v, recomputed %v", chat.GetTopEmotes(), topEmotes)
	}
	if !equalProtos(report.GetChanges(), changes) {
		t.Errorf("changes %v, recomputed %v", report.GetChanges(), changes)
	}
	if report.GetLive() != s.GetLive() || !proto.Equal(report.GetSession().GetStartedAt(), s.GetStartedAt()) {
		t.Errorf("live %v started %v; the session's: %v %v", report.GetLive(), report.GetSession().GetStartedAt(), s.GetLive(), s.GetStartedAt())
	}
	// the moments of the session's span, oldest first
	momentsEnd := p.end.Add(time.Hour)
	if e := s.GetEndedAt(); e != nil {
		momentsEnd = e.AsTime().Add(time.Microsecond)
	}
	listedMoments, err := client.ListMoments(ctx, &pb.ListMomentsRequest{Parent: "channels/" + s.GetChannel(),
		StartTime: s.GetStartedAt(), EndTime: timestamppb.New(momentsEnd), PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	wantMoments := listedMoments.GetMoments()
	slices.SortFunc(wantMoments, func(a, b *pb.Moment) int { // newest first there
		return cmp.Or(a.GetAt().AsTime().Compare(b.GetAt().AsTime()), cmp.Compare(a.GetId(), b.GetId()))
	})
	if !equalProtos(report.GetMoments(), wantMoments) || int64(len(wantMoments)) != report.GetSession().GetMoments() {
		t.Errorf("moments %v, listed %v (the session counts %d)", report.GetMoments(), wantMoments, report.GetSession().GetMoments())
	}
}

func addTransactions(sum, w *pb.TransactionStats) {
	sum.Donations.Count += w.GetDonations().GetCount()
	sum.Donations.AmountCents += w.GetDonations().GetAmountCents()
	sum.Subscriptions.Count += w.GetSubscriptions().GetCount()
	sum.Subscriptions.Tier1 += w.GetSubscriptions().GetTier1()
	sum.Subscriptions.Tier2 += w.GetSubscriptions().GetTier2()
	sum.Subscriptions.Tier3 += w.GetSubscriptions().GetTier3()
	sum.Subscriptions.AmountCents += w.GetSubscriptions().GetAmountCents()
	sum.Bits.Count += w.GetBits().GetCount()
	sum.Bits.Bits += w.GetBits().GetBits()
	sum.Bits.AmountCents += w.GetBits().GetAmountCents()
	sum.GiftSubs.Count += w.GetGiftSubs().GetCount()
	sum.GiftSubs.Gifted += w.GetGiftSubs().GetGifted()
	sum.GiftSubs.AmountCents += w.GetGiftSubs().GetAmountCents()
	sum.RevenueCents += w.GetRevenueCents()
	sum.Transactions += w.GetTransactions()
}

func equalProtos[M proto.Message](a, b []M) bool {
	return slices.EqualFunc(a, b, func(x, y M) bool { return proto.Equal(x, y) })
}

// documentedCSVColumns are the column names of the CSV table in docs/api.md, in order.
func documentedCSVColumns(t *testing.T) []string {
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "<!-- csv columns -->")
	if !ok {
		t.Fatal("docs/api.md has no <!-- csv columns --> table")
	}
	table, _, _ = strings.Cut(table, "<!-- end csv columns -->")
	var names []string
	lines := bufio.NewScanner(strings.NewReader(table))
	cell := regexp.MustCompile("^\\| `([a-z0-9_]+)` \\|")
	for lines.Scan() {
		if m := cell.FindStringSubmatch(lines.Text()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// checkCSV parses an export as a spreadsheet would and checks every cell's type: the header is
// the documented one, timestamps are RFC 3339 in UTC, booleans true or false, every other
// column but the channel and the emotes a plain number (no thousands separators, dot
// decimals). It returns the rows by column name.
func checkCSV(t *testing.T, file []byte) []map[string]string {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%.500s", err, file)
	}
	if len(records) == 0 {
		t.Fatal("no header row")
	}
	header := records[0]
	if want := documentedCSVColumns(t); !slices.Equal(header, want) {
		t.Fatalf("header %v\nwant the documented %v", header, want)
	}
	plainNumber := regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	var out []map[string]string
	for k, rec := range records[1:] {
		row := map[string]string{}
		for c, v := range rec {
			name := header[c]
			row[name] = v
			switch name {
			case "channel", "top_emotes":
			case "window_start", "window_end":
				ts, err := time.Parse(time.RFC3339, v)
				if err != nil || ts.Location() != time.UTC || !strings.HasSuffix(v, "Z") {
					t.Errorf("row %d %s %q: not an RFC 3339 UTC timestamp (%v)", k+1, name, v, err)
				}
			case "final", "live":
				if _, err := strconv.ParseBool(v); err != nil || (v != "true" && v != "false") {
					t.Errorf("row %d %s %q: not true or false", k+1, name, v)
				}
			default:
				_, err := strconv.ParseFloat(v, 64)
				if err != nil || !plainNumber.MatchString(v) {
					t.Errorf("row %d %s %q: not a plain number (%v)", k+1, name, v, err)
				}
			}
		}
		out = append(out, row)
	}
	return out
}

func sumColumn(t *testing.T, rows []map[string]string, column string) int64 {
	var n int64
	for _, r := range rows {
		v, err := strconv.ParseInt(r[column], 10, 64)
		if err != nil {
			t.Fatalf("%s %q: %v", column, r[column], err)
		}
		n += v
	}
	return n
}

func httpGet(t *testing.T, url, auth string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	return b
}
