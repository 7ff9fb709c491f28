package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// FreshnessResult is one fixed rate of phase 2.
type FreshnessResult struct {
	Rate     int              `json:"rate"`
	Achieved float64          `json:"achieved_per_second"`
	Seconds  float64          `json:"seconds"` // the producer's run, over which CPU is reported
	Channels int              `json:"channels"`
	Rows     []LatencyRow     `json:"latencies"`
	Usage    map[string]Usage `json:"usage"`
}

// LatencyRow is one latency's percentiles.
type LatencyRow struct {
	Name    string        `json:"name"`
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50"`
	P95     time.Duration `json:"p95"`
	P99     time.Duration `json:"p99"`
}

func latencyRow(name string, l *Latencies) LatencyRow {
	return LatencyRow{Name: name, Samples: l.Len(), P50: l.Percentile(50), P95: l.Percentile(95), P99: l.Percentile(99)}
}

// The latency rows, in the order printed.
const (
	latSubscriber = "provisional update at a subscriber"
	latRow        = "window row queryable in PostgreSQL"
	latFinalSub   = "final window at a subscriber"
	latFinalRow   = "final window row in PostgreSQL"
	// A window closes at the arrival that moves its partition's frontier past the window's
	// close point (docs/processors.md), and its final record's emitted_at is that moment: the
	// watermark passing the window.
	latFinalClosed = "final window at a subscriber, from the watermark passing the window"
)

// emitKey identifies one emit of a window: versions increase with every emit of a channel.
type emitKey struct {
	channel string
	version uint64
}

// freshness is phase 2: the gateway joins the processor and projector, and the producer runs
// in real time at each rate. Each window emit is timed from its latest event's time (the
// producer stamps events with the wall clock when it writes them) to when it was seen: by a
// gRPC subscriber of the gateway, and by a poller of PostgreSQL (every 20 ms).
func (e *env) freshness(ctx context.Context, rep *Report, l *live) error {
	grpcAddr, err := freeAddr()
	if err != nil {
		return err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	gateway, err := e.start("gateway", "serve", "--brokers", e.brokers[0], "--database-url", e.dbURL,
		"--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--metrics-addr", "", "--log-level", "warn")
	if err != nil {
		return err
	}
	defer func() { _ = gateway.stop(30 * time.Second) }() // as stopAll: a slow stop does not void the results
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := pb.NewTelemetraServiceClient(conn)
	if err := retry(ctx, time.Minute, func() error {
		if gateway.exited() {
			return errors.New("the gateway exited (see its log)")
		}
		_, err := client.ListChannels(ctx, &pb.ListChannelsRequest{})
		return err
	}); err != nil {
		return fmt.Errorf("gateway not up: %w", err)
	}
	for _, rate := range e.cfg.Rates {
		res, err := e.freshnessAt(ctx, l, client, gateway, rate)
		if err != nil {
			return fmt.Errorf("at %d events/s: %w", rate, err)
		}
		rep.Freshness = append(rep.Freshness, res)
	}
	return nil
}

func (e *env) freshnessAt(ctx context.Context, l *live, client pb.TelemetraServiceClient, gateway *role, rate int) (FreshnessResult, error) {
	res := FreshnessResult{Rate: rate, Channels: 10, Usage: map[string]Usage{}}
	var channels []string
	for i := range res.Channels {
		channels = append(channels, fmt.Sprintf("fresh_%d_%02d", rate, i+1))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var mu sync.Mutex
	eventTimes := map[emitKey]time.Time{} // from the aggregates topic
	closedAt := map[emitKey]time.Time{}   // the finals' emitted_at, from the aggregates topic
	type sighting struct {
		key   emitKey
		final bool
		at    time.Time
	}
	var subSeen []sighting
	pgSeen := map[emitKey]sighting{}
	pgLast := map[emitKey]time.Time{} // last_event_time of the rows seen

	// every emit's latest event time, from the processor's output topic
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(kafka.TopicAggregates),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return res, err
	}
	defer cl.Close()
	ours := map[string]bool{}
	for _, c := range channels {
		ours[c] = true
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				if !ours[string(r.Key)] {
					return
				}
				var agg pb.WindowAggregate
				if proto.Unmarshal(r.Value, &agg) != nil || agg.LastEventTime == nil {
					return
				}
				mu.Lock()
				eventTimes[emitKey{agg.Channel, agg.Version}] = agg.LastEventTime.AsTime()
				if agg.Final && agg.EmittedAt != nil {
					closedAt[emitKey{agg.Channel, agg.Version}] = agg.EmittedAt.AsTime()
				}
				mu.Unlock()
			})
		}
	}()
	// a live dashboard: the gateway's subscription
	stream, err := client.SubscribeChannelEvents(ctx, &pb.SubscribeChannelEventsRequest{Channels: channels,
		Types: []pb.ChannelEventType{pb.ChannelEventType_CHANNEL_EVENT_TYPE_PROVISIONAL_WINDOW, pb.ChannelEventType_CHANNEL_EVENT_TYPE_FINAL_WINDOW}})
	if err != nil {
		return res, fmt.Errorf("subscribe: %w", err)
	}
	go func() {
		defer wg.Done()
		for {
			ev, err := stream.Recv()
			if err != nil {
				return
			}
			if w := ev.GetWindow(); w != nil {
				mu.Lock()
				subSeen = append(subSeen, sighting{emitKey{ev.Channel, w.Version}, w.Final, time.Now()})
				mu.Unlock()
			}
		}
	}()
	// a client polling PostgreSQL
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			rows, err := l.db.Query(ctx, `SELECT channel, version, final, last_event_time FROM window_aggregates WHERE channel = ANY($1)`, channels)
			if err == nil {
				now := time.Now()
				for rows.Next() {
					var k emitKey
					var final bool
					var last time.Time
					if rows.Scan(&k.channel, &k.version, &final, &last) != nil {
						continue
					}
					mu.Lock()
					if _, seen := pgSeen[k]; !seen {
						pgSeen[k] = sighting{k, final, now}
						pgLast[k] = last
					}
					mu.Unlock()
				}
				rows.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	measured := append([]*role{l.processor, l.projector, gateway}, e.others()...)
	for _, r := range measured {
		r.beginPhase()
	}
	name := "producer-" + strconv.Itoa(rate)
	began := time.Now()
	producer, err := e.start(name, "produce", "--brokers", e.brokers[0], "--channels", strings.Join(channels, ","),
		"--rate", strconv.Itoa(rate), "--duration", e.cfg.FreshnessDuration.String(), "--seed", strconv.FormatUint(e.cfg.Seed, 10),
		"--log-level", "warn")
	if err != nil {
		return res, err
	}
	e.log.Info("freshness", "rate", rate, "for", e.cfg.FreshnessDuration)
	if err := producer.wait(ctx); err != nil {
		return res, err
	}
	res.Seconds = time.Since(began).Seconds()
	res.Achieved = float64(rate) * e.cfg.FreshnessDuration.Seconds() / res.Seconds
	res.Usage[name] = producer.usage()
	for _, r := range measured {
		res.Usage[r.name] = r.usage()
	}
	// the last windows close once markers move the quiet inputs past their end plus the
	// lateness (the producer delay after it)
	e.log.Info("freshness: waiting for the last final windows", "rate", rate)
	_ = retry(ctx, time.Minute, func() error {
		mu.Lock()
		defer mu.Unlock()
		open := map[string]bool{}
		for k := range pgSeen {
			open[k.channel] = true
		}
		for _, s := range pgSeen {
			if s.final {
				delete(open, s.key.channel)
			}
		}
		if len(open) > 0 || len(pgSeen) == 0 {
			return errors.New("windows still open")
		}
		return nil
	})
	time.Sleep(3 * time.Second) // the last finals' sightings
	cancel()
	wg.Wait()

	var sub, row, subFinal, rowFinal, subClosed Latencies
	mu.Lock()
	defer mu.Unlock()
	for _, s := range subSeen {
		t, ok := eventTimes[s.key]
		if !ok {
			continue
		}
		if s.final {
			subFinal.Add(s.at.Sub(t))
			if closed, ok := closedAt[s.key]; ok {
				subClosed.Add(s.at.Sub(closed))
			}
		} else {
			sub.Add(s.at.Sub(t))
		}
	}
	for k, s := range pgSeen {
		if s.final {
			rowFinal.Add(s.at.Sub(pgLast[k]))
		} else {
			row.Add(s.at.Sub(pgLast[k]))
		}
	}
	res.Rows = []LatencyRow{latencyRow(latSubscriber, &sub), latencyRow(latRow, &row),
		latencyRow(latFinalSub, &subFinal), latencyRow(latFinalRow, &rowFinal), latencyRow(latFinalClosed, &subClosed)}
	if sub.Len() == 0 || row.Len() == 0 || subFinal.Len() == 0 {
		return res, fmt.Errorf("no samples: %d subscriber updates, %d rows, %d finals (see the logs in %s)", sub.Len(), row.Len(), subFinal.Len(), e.logDir)
	}
	return res, nil
}
