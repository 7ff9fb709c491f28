package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func restJSON(t *testing.T, addr, target string, into any) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if into != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, into); err != nil {
			t.Fatalf("GET %s: %v in %s", target, err, raw)
		}
	}
	return resp.StatusCode
}

// TestRankingsOnThePipeline: over the real pipeline, the live ranking equals what GetChannel
// says of each live channel, the range ranking of revenue equals what the producer sent (the
// projector's hourly roll-up end to end), pages go on with their token over gRPC and REST,
// trending answers over both scopes, and the ranking stream serves NDJSON over REST.
func TestRankingsOnThePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	p := startPipeline(t)
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewTelemetraServiceClient(conn)
	channels := []string{"cozy_cafe", "demo_stream", "gaming"}

	t.Run("now: the live channels by viewers, as GetChannel has them", func(t *testing.T) {
		testkit.WaitFor(t, "the live ranking to match the live view", time.Minute, func() error {
			var want []*pb.ChannelRank
			for _, ch := range channels {
				c, err := client.GetChannel(ctx, &pb.GetChannelRequest{Name: "channels/" + ch})
				if err != nil {
					return err
				}
				if c.GetStatus().GetLive() {
					want = append(want, &pb.ChannelRank{Channel: ch, Value: float64(c.GetStatus().GetViewers())})
				}
			}
			sort.SliceStable(want, func(i, j int) bool { return want[i].GetValue() > want[j].GetValue() })
			got, err := client.RankChannels(ctx, &pb.RankChannelsRequest{Metric: pb.RankingMetric_RANKING_METRIC_VIEWERS})
			if err != nil {
				return err
			}
			if len(got.GetRankings()) != len(want) || got.GetTotalSize() != int64(len(want)) || got.GetScope() != pb.RankingScope_RANKING_SCOPE_NOW {
				return fmt.Errorf("ranking %v, want %v", got, want)
			}
			for k, r := range got.GetRankings() {
				if r.GetChannel() != want[k].GetChannel() || r.GetValue() != want[k].GetValue() || r.GetRank() != int64(k+1) || !r.GetLive() {
					return fmt.Errorf("rank %d: %v, want %v", k+1, r, want[k])
				}
			}
			return nil
		})
	})

	rangeReq := func(token string, size int32) *pb.RankChannelsRequest {
		return &pb.RankChannelsRequest{Metric: pb.RankingMetric_RANKING_METRIC_REVENUE, Scope: pb.RankingScope_RANKING_SCOPE_RANGE,
			StartTime: timestamppb.New(p.start), EndTime: timestamppb.New(p.end), PageSize: size, PageToken: token}
	}
	t.Run("range: revenue as the producer sent it, page by page over gRPC", func(t *testing.T) {
		var got []*pb.ChannelRank
		token := ""
		for page := 0; ; page++ {
			resp, err := client.RankChannels(ctx, rangeReq(token, 1))
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetTotalSize() != 3 || !resp.GetStartTime().AsTime().Equal(p.start) {
				t.Fatalf("page %d: %v", page, resp)
			}
			got = append(got, resp.GetRankings()...)
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		if len(got) != 3 {
			t.Fatalf("%d entries over the pages, want 3", len(got))
		}
		for k, r := range got {
			if want := p.want[r.GetChannel()].RevenueCents; r.GetRevenueCents() != want || r.GetValue() != float64(want) || r.GetRank() != int64(k+1) {
				t.Fatalf("rank %d: %v; the producer sent %s %d cents", k+1, r, r.GetChannel(), want)
			}
			if k > 0 && got[k-1].GetValue() < r.GetValue() {
				t.Fatalf("not by revenue descending: %v", got)
			}
		}
	})

	t.Run("range over REST: the same, and a token for the next page", func(t *testing.T) {
		q := url.Values{"metric": {"RANKING_METRIC_REVENUE"}, "scope": {"RANKING_SCOPE_RANGE"},
			"start_time": {p.start.Format(time.RFC3339)}, "end_time": {p.end.Format(time.RFC3339)}, "page_size": {"2"}}
		var page struct {
			Rankings []struct {
				Rank         string  `json:"rank"`
				Channel      string  `json:"channel"`
				Value        float64 `json:"value"`
				RevenueCents string  `json:"revenueCents"`
			} `json:"rankings"`
			NextPageToken string `json:"nextPageToken"`
			TotalSize     string `json:"totalSize"`
		}
		if code := restJSON(t, p.httpAddr, "/v1/channels:rank?"+q.Encode(), &page); code != http.StatusOK || len(page.Rankings) != 2 || page.NextPageToken == "" || page.TotalSize != "3" {
			t.Fatalf("HTTP %d %+v", code, page)
		}
		for _, r := range page.Rankings {
			if r.RevenueCents != strconv.FormatInt(p.want[r.Channel].RevenueCents, 10) {
				t.Fatalf("%+v; the producer sent %d", r, p.want[r.Channel].RevenueCents)
			}
		}
		q.Set("page_token", page.NextPageToken)
		page.Rankings, page.NextPageToken = nil, ""
		if code := restJSON(t, p.httpAddr, "/v1/channels:rank?"+q.Encode(), &page); code != http.StatusOK || len(page.Rankings) != 1 || page.Rankings[0].Rank != "3" || page.NextPageToken != "" {
			t.Fatalf("page 2: HTTP %d %+v", code, page)
		}
		q.Set("category", "Other") // a token only goes with the request it came from
		if code := restJSON(t, p.httpAddr, "/v1/channels:rank?"+q.Encode(), nil); code != http.StatusBadRequest {
			t.Fatalf("a token with another category: HTTP %d, want 400", code)
		}
		if code := restJSON(t, p.httpAddr, "/v1/channels:rank", nil); code != http.StatusBadRequest {
			t.Fatalf("no metric: HTTP %d, want 400", code)
		}
		if _, err := client.RankChannels(ctx, &pb.RankChannelsRequest{}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("no metric over gRPC: %v", err)
		}
	})

	t.Run("trending over both scopes", func(t *testing.T) {
		ranged, err := client.ListTrending(ctx, &pb.ListTrendingRequest{Scope: pb.RankingScope_RANKING_SCOPE_RANGE,
			StartTime: timestamppb.New(p.start), EndTime: timestamppb.New(p.end), Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(ranged.GetEmotes()) != 5 || len(ranged.GetCategories()) == 0 || ranged.GetEmotes()[0].GetUses() < ranged.GetEmotes()[4].GetUses() {
			t.Fatalf("range: %v", ranged)
		}
		var chat int64
		for _, c := range ranged.GetCategories() {
			if c.GetChannels() < 1 || c.GetChannels() > 3 {
				t.Fatalf("category %v", c)
			}
			chat += c.GetChatMessages()
		}
		var sent int64
		for _, ch := range channels {
			sent += p.want[ch].Chat
		}
		if chat > sent || chat == 0 {
			t.Fatalf("the categories' chat messages %d; the producer sent %d", chat, sent)
		}
		var now struct {
			Emotes []map[string]any `json:"emotes"`
		}
		if code := restJSON(t, p.httpAddr, "/v1/trending?limit=3", &now); code != http.StatusOK || len(now.Emotes) > 3 {
			t.Fatalf("now over REST: HTTP %d %+v", code, now)
		}
	})

	t.Run("the ranking stream over REST", func(t *testing.T) {
		resp, err := http.Get("http://" + p.httpAddr + "/v1/rankings:subscribe?metric=RANKING_METRIC_VIEWERS&top=2")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var msg struct {
			Result json.RawMessage `json:"result"`
		}
		update := &pb.RankingUpdate{}
		if err := json.Unmarshal(line, &msg); err != nil || protojson.Unmarshal(msg.Result, update) != nil {
			t.Fatalf("first line %s: %v", line, err)
		}
		if update.GetSequence() != 1 || len(update.GetRankings()) > 2 || len(update.GetChanges()) != 0 {
			t.Fatalf("first update %v", update)
		}
	})
}

// TestRankingSubscriptionsEndCleanlyAtShutdown: a gateway shutting down ends ranking streams
// with UNAVAILABLE, as it ends channel event streams.
func TestRankingSubscriptionsEndCleanlyAtShutdown(t *testing.T) {
	gwCtx, stop := context.WithCancel(ctx)
	defer stop()
	srv, err := gateway.Start(gwCtx, gateway.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Brokers: []string{kafkatest.StartBroker(t)}, Live: fakeLive{}, Logger: kafkatest.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := pb.NewTelemetraServiceClient(conn).SubscribeRankings(ctx, &pb.SubscribeRankingsRequest{Metric: pb.RankingMetric_RANKING_METRIC_MOMENTS})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.GetSequence() != 1 || !slices.ContainsFunc(first.GetRankings(), func(r *pb.ChannelRank) bool { return r.GetChannel() == "demo_stream" }) {
		t.Fatalf("first update %v, %v; want demo_stream (the live view's) ranked", first, err)
	}
	stop()
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("at shutdown: %v; want UNAVAILABLE", err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
}
