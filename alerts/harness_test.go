package alerts

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/migrations"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(pgtest.M(m)) }

var bg = context.Background()

// env is a broker, a migrated alerting schema and a connection to it.
type env struct {
	brokers []string
	dbURL   string
	conn    *pgx.Conn
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{brokers: []string{kafkatest.StartBroker(t)}, dbURL: pgtest.Database(t)}
	e.conn = pgtest.Connect(t, e.dbURL)
	if _, err := migrations.ApplyAlerts(bg, e.conn, migrations.DefaultAlertsSchema, kafkatest.Quiet()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.Exec(bg, "SET search_path TO "+migrations.DefaultAlertsSchema); err != nil {
		t.Fatal(err)
	}
	return e
}

// config is a fast role: short backoff and polls, moments of any age.
func (e *env) config() Config {
	return Config{
		Brokers: e.brokers, DatabaseURL: e.dbURL, MaxMomentAge: -1, AttemptTimeout: 2 * time.Second,
		Backoff: Backoff{Base: 20 * time.Millisecond, Factor: 2, Max: 100 * time.Millisecond}, PollInterval: 20 * time.Millisecond,
		SubscriptionRefresh: 50 * time.Millisecond, Logger: kafkatest.Quiet(),
	}
}

// start runs the role until the returned stop is called (or the test ends).
func start(t *testing.T, cfg Config) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func (e *env) subscribe(t *testing.T, id, url, secret string) {
	t.Helper()
	e.exec(t, "INSERT INTO alert_subscriptions (id, url, secret) VALUES ($1, $2, $3)", id, url, secret)
}

func (e *env) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := e.conn.Exec(bg, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

var momentSeq int

// moment is a chat spike on channel at the given time, with a fresh id.
func moment(channel string, at time.Time) *pb.Moment {
	momentSeq++
	at = at.Truncate(time.Second)
	return &pb.Moment{
		Id: fmt.Sprintf("chat_spike-%d-%d", at.Unix(), momentSeq), Channel: channel, Kind: pb.MomentKind_MOMENT_KIND_CHAT_SPIKE,
		At: timestamppb.New(at), WindowStart: timestamppb.New(at.Add(-time.Minute)), WindowEnd: timestamppb.New(at),
		EmittedAt: timestamppb.New(at), Value: 400, ZScore: 4.5, Description: "Chat spike",
	}
}

func (e *env) produce(t *testing.T, moments ...*pb.Moment) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var records []*kgo.Record
	for _, m := range moments {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, &kgo.Record{Topic: kafka.TopicMoments, Key: []byte(m.GetChannel()), Value: b})
	}
	if err := cl.ProduceSync(bg, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// request is what a receiver got.
type request struct {
	header http.Header
	body   []byte
	// verified is VerifyRequest's result with the receiver's secrets, at arrival
	verified error
}

// receiver is a real HTTP server on loopback whose answers the test decides.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	secrets  []string
	got      []request
	answer   func(n int, r request) int // n counts the requests of the same key, from 1
	inFlight int
	release  chan struct{} // closed: a hanging answer returns
}

const hang = -1

func newReceiver(t *testing.T, secrets []string, answer func(n int, r request) int) *receiver {
	t.Helper()
	rc := &receiver{secrets: secrets, answer: answer, release: make(chan struct{})}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(func() {
		rc.unhang()
		rc.Close()
	})
	return rc
}

func (rc *receiver) unhang() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	select {
	case <-rc.release:
	default:
		close(rc.release)
	}
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	req := request{header: r.Header.Clone(), body: body, verified: VerifyRequest(rc.secrets, r.Header, body, time.Now())}
	rc.got = append(rc.got, req)
	n := 0
	for _, g := range rc.got {
		if g.header.Get(HeaderID) == req.header.Get(HeaderID) {
			n++
		}
	}
	status := rc.answer(n, req)
	if status == hang {
		rc.inFlight++
	}
	rc.mu.Unlock()
	if status == hang {
		select {
		case <-rc.release:
		case <-r.Context().Done():
		}
		rc.mu.Lock()
		rc.inFlight--
		rc.mu.Unlock()
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

func (rc *receiver) hanging() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.inFlight
}

// delivery is a row of alert_deliveries with its attempts' status codes.
type delivery struct {
	subscription, key, state, reason string
	attempts                         int
	statuses                         []int
}

func (e *env) deliveries(t *testing.T) []delivery {
	t.Helper()
	rows, err := e.conn.Query(bg, `SELECT d.subscription_id, d.idempotency_key, d.state, d.dead_letter_reason, d.attempt_count,
		coalesce((SELECT array_agg(a.status_code ORDER BY a.number) FROM alert_attempts a WHERE a.delivery_id = d.id), '{}')
		FROM alert_deliveries d ORDER BY d.id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (delivery, error) {
		var d delivery
		err := r.Scan(&d.subscription, &d.key, &d.state, &d.reason, &d.attempts, &d.statuses)
		return d, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitEnded waits until n deliveries exist and none is pending.
func (e *env) waitEnded(t *testing.T, n int) []delivery {
	t.Helper()
	var ds []delivery
	testkit.WaitFor(t, fmt.Sprintf("%d deliveries to end", n), time.Minute, func() error {
		ds = e.deliveries(t)
		pending := 0
		for _, d := range ds {
			if d.state == statePending {
				pending++
			}
		}
		if len(ds) < n || pending > 0 {
			return fmt.Errorf("%d deliveries, %d pending: %+v", len(ds), pending, ds)
		}
		return nil
	})
	return ds
}
