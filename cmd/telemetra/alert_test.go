package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/alerts"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/migrations"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// tableAPI stands in for the gateway's TestAlertSubscription and GetAlertDelivery, straight
// on the alerting tables, so `telemetra alert test` is tested against a real alert role here.
type tableAPI struct {
	pb.UnimplementedTelemetraServiceServer
	pool *pgxpool.Pool
}

func (a *tableAPI) TestAlertSubscription(ctx context.Context, req *pb.TestAlertSubscriptionRequest) (*pb.AlertDelivery, error) {
	sub := strings.TrimPrefix(req.GetName(), "alertSubscriptions/")
	m, err := protojson.Marshal(&pb.Moment{Id: "test", Channel: "test", At: timestamppb.Now(), Description: "A test delivery"})
	if err != nil {
		return nil, err
	}
	var id int64
	if err := a.pool.QueryRow(ctx, `WITH n AS (SELECT nextval(pg_get_serial_sequence('alert_deliveries', 'id')) AS id)
		INSERT INTO alert_deliveries (id, subscription_id, idempotency_key, moment, test)
		SELECT n.id, $1, 'tests/' || n.id, $2::jsonb, true FROM n RETURNING id`, sub, string(m)).Scan(&id); err != nil {
		return nil, err
	}
	return a.GetAlertDelivery(ctx, &pb.GetAlertDeliveryRequest{Name: req.GetName() + "/deliveries/" + jsonInt(id)})
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func (a *tableAPI) GetAlertDelivery(ctx context.Context, req *pb.GetAlertDeliveryRequest) (*pb.AlertDelivery, error) {
	id := req.GetName()[strings.LastIndex(req.GetName(), "/")+1:]
	d := &pb.AlertDelivery{Name: req.GetName()}
	var state string
	if err := a.pool.QueryRow(ctx, `SELECT idempotency_key, state, attempt_count, dead_letter_reason FROM alert_deliveries WHERE id = $1::bigint`, id).
		Scan(&d.IdempotencyKey, &state, &d.AttemptCount, &d.DeadLetterReason); err != nil {
		return nil, err
	}
	d.State = pb.AlertDeliveryState(pb.AlertDeliveryState_value["ALERT_DELIVERY_STATE_"+strings.ToUpper(state)])
	rows, err := a.pool.Query(ctx, `SELECT number, started_at, latency_ms, status_code, error FROM alert_attempts WHERE delivery_id = $1::bigint ORDER BY number`, id)
	if err != nil {
		return nil, err
	}
	d.Attempts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pb.AlertAttempt, error) {
		at := &pb.AlertAttempt{}
		var started time.Time
		var ms float64
		err := r.Scan(&at.Number, &started, &ms, &at.StatusCode, &at.Error)
		at.StartTime, at.Latency = timestamppb.New(started), durationpb.New(time.Duration(ms*float64(time.Millisecond)))
		return at, err
	})
	return d, err
}

func TestAlertTestSendsASampleDeliveryAndPrintsItsAttempts(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.Database(t)
	conn := pgtest.Connect(t, dbURL)
	if _, err := migrations.ApplyAlerts(ctx, conn, migrations.DefaultAlertsSchema, kafkatest.Quiet()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies [][]byte
	var verified []error
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies, verified = append(bodies, body), append(verified, alerts.VerifyRequest([]string{"k"}, r.Header, body, time.Now()))
		if len(bodies) == 1 {
			w.WriteHeader(http.StatusInternalServerError) // the first attempt fails, the retry succeeds
		}
	}))
	defer receiver.Close()
	if _, err := conn.Exec(ctx, "INSERT INTO telemetra_alerts.alert_subscriptions (id, url, secret) VALUES ('s1', $1, 'k')", receiver.URL); err != nil {
		t.Fatal(err)
	}

	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.RuntimeParams["search_path"] = migrations.DefaultAlertsSchema
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterTelemetraServiceServer(srv, &tableAPI{pool: pool})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	roleCtx, stopRole := context.WithCancel(ctx)
	roleDone := make(chan error, 1)
	go func() {
		roleDone <- alerts.Run(roleCtx, alerts.Config{
			Brokers: []string{kafkatest.StartBroker(t)}, DatabaseURL: dbURL, PollInterval: 20 * time.Millisecond,
			Backoff: alerts.Backoff{Base: 10 * time.Millisecond, Factor: 2, Max: 50 * time.Millisecond}, Logger: kafkatest.Quiet(),
		})
	}()
	defer func() {
		stopRole()
		if err := <-roleDone; err != nil {
			t.Error(err)
		}
	}()

	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var out bytes.Buffer
	if err := testSubscription(ctx, pb.NewTelemetraServiceClient(cc), "s1", time.Minute, 20*time.Millisecond, &out); err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	t.Logf("\n%s", &out)
	for _, want := range []string{"delivered after 2 attempt(s)", "attempt 1", "HTTP 500", "attempt 2", "HTTP 200", "(key tests/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output has no %q:\n%s", want, &out)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, b := range bodies {
		var p alerts.Payload
		if err := json.Unmarshal(b, &p); err != nil || !p.Test || p.Type != "moment.unspecified" || p.Subscription != "alertSubscriptions/s1" {
			t.Errorf("request %d: payload %s (%v)", i+1, b, err)
		}
		if verified[i] != nil {
			t.Errorf("request %d: signature: %v", i+1, verified[i])
		}
	}

	// a subscription nobody delivers to within the wait: the command says so and fails
	out.Reset()
	if _, err := conn.Exec(ctx, "INSERT INTO telemetra_alerts.alert_subscriptions (id, url, secret, deleted_at) VALUES ('gone', $1, 'k', now())", receiver.URL); err != nil {
		t.Fatal(err)
	}
	err = testSubscription(ctx, pb.NewTelemetraServiceClient(cc), "alertSubscriptions/gone", 200*time.Millisecond, 20*time.Millisecond, &out)
	if !errors.Is(err, errNotDelivered) || !strings.Contains(out.String(), "pending after 0 attempt(s)") {
		t.Errorf("err %v, output:\n%s", err, &out)
	}
}
