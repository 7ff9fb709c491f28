package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/migrations"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// alertsGateway is a gateway over a database with the alerting schema, its gRPC client, and a
// pool on that schema to write what the alert role would.
type alertsGateway struct {
	srv    *gateway.Server
	client pb.TelemetraServiceClient
	pool   *pgxpool.Pool
	now    time.Time
}

const alertsTestSchema = "alerts_under_test"

func startAlertsGateway(t *testing.T, cfg gateway.Config) *alertsGateway {
	t.Helper()
	dbURL := pgtest.Database(t)
	conn := pgtest.Connect(t, dbURL)
	if _, err := migrations.ApplyAlerts(ctx, conn, alertsTestSchema, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	cfg.DatabaseURL, cfg.AlertsSchema, cfg.Live = dbURL, alertsTestSchema, fakeLive{}
	cfg.Now = func() time.Time { return now }
	srv := startGatewayWithoutHistory(t, cfg)
	grpcConn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { grpcConn.Close() })
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &alertsGateway{srv: srv, client: pb.NewTelemetraServiceClient(grpcConn), pool: pool, now: now}
}

// rest sends a JSON request and decodes the answer into out (when 200); it returns the status.
func (g *alertsGateway) rest(t *testing.T, method, target, body string, out proto.Message) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+g.srv.HTTPAddr()+target, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := protojson.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, target, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

func (g *alertsGateway) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := g.pool.Exec(ctx, strings.ReplaceAll(sql, "$schema", alertsTestSchema), args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestAlertSubscriptionsOverGRPCAndREST: create (REST), list in pages, get, rotate with the
// previous secret's expiry, a test delivery, the delivery log with attempts the role wrote,
// delete dead-lettering the pending deliveries, and NOT_FOUND afterwards.
func TestAlertSubscriptionsOverGRPCAndREST(t *testing.T) {
	g := startAlertsGateway(t, gateway.Config{})
	created := &pb.AlertSubscription{}
	code, body := g.rest(t, http.MethodPost, "/v1/alertSubscriptions",
		`{"url":"https://hooks.example.com/telemetra?team=mods","channel":"demo_stream","kinds":["MOMENT_KIND_RAID","MOMENT_KIND_CHAT_SPIKE","MOMENT_KIND_RAID"],"minRaidViewers":"500","description":"raids over 500","createTime":"0001-01-01T00:00:00Z"}`, created)
	if code != http.StatusOK {
		t.Fatalf("create over REST: HTTP %d %s", code, body)
	}
	id := strings.TrimPrefix(created.GetName(), "alertSubscriptions/")
	if len(id) != 32 || !strings.HasPrefix(created.GetSecret(), "whsec_") || len(created.GetSecret()) != len("whsec_")+43 ||
		created.GetMinRaidViewers() != 500 || created.GetChannel() != "demo_stream" || !created.GetCreateTime().AsTime().Equal(g.now) {
		t.Fatalf("created %v", created)
	}
	if got := created.GetKinds(); len(got) != 2 || got[0] != pb.MomentKind_MOMENT_KIND_CHAT_SPIKE || got[1] != pb.MomentKind_MOMENT_KIND_RAID {
		t.Errorf("kinds %v, want chat spike and raid, once each", got)
	}
	var names []string
	names = append(names, created.GetName())
	for range 4 {
		sub, err := g.client.CreateAlertSubscription(ctx, &pb.CreateAlertSubscriptionRequest{Subscription: &pb.AlertSubscription{Url: "http://127.0.0.1:9/hook"}})
		if err != nil {
			t.Fatal(err)
		}
		if sub.GetSecret() == created.GetSecret() {
			t.Fatal("two subscriptions share a secret")
		}
		names = append(names, sub.GetName())
	}

	// list: oldest first (same create time: by id), two per page, no secrets
	var listed []string
	token := ""
	for pages := 0; ; pages++ {
		resp, err := g.client.ListAlertSubscriptions(ctx, &pb.ListAlertSubscriptionsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range resp.GetSubscriptions() {
			if s.GetSecret() != "" {
				t.Fatalf("a listed subscription carries its secret")
			}
			listed = append(listed, s.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
	}
	slices.Sort(names) // one create time: by id
	if !slices.Equal(listed, names) {
		t.Errorf("listed %v, want the 5 by id: %v", listed, names)
	}

	got, err := g.client.GetAlertSubscription(ctx, &pb.GetAlertSubscriptionRequest{Name: created.GetName()})
	if err != nil || got.GetSecret() != "" || got.GetUrl() != created.GetUrl() || got.GetPendingDeliveries() != 0 {
		t.Fatalf("get: %v %v", got, err)
	}

	// rotate: the previous secret signs for the TTL; zero: not at all; over 7 days: refused
	rotated := &pb.AlertSubscription{}
	if code, body := g.rest(t, http.MethodPost, "/v1/"+created.GetName()+":rotateSecret", `{"previousSecretTtl":"3600s"}`, rotated); code != http.StatusOK {
		t.Fatalf("rotate: HTTP %d %s", code, body)
	}
	if rotated.GetSecret() == created.GetSecret() || !rotated.GetPreviousSecretExpireTime().AsTime().Equal(g.now.Add(time.Hour)) {
		t.Fatalf("rotated %v", rotated)
	}
	var previous string
	if err := g.pool.QueryRow(ctx, "SELECT previous_secret FROM "+alertsTestSchema+".alert_subscriptions WHERE id = $1", id).Scan(&previous); err != nil || previous != created.GetSecret() {
		t.Fatalf("previous secret %q, %v; want the first", previous, err)
	}
	def, err := g.client.RotateAlertSecret(ctx, &pb.RotateAlertSecretRequest{Name: created.GetName()})
	if err != nil || !def.GetPreviousSecretExpireTime().AsTime().Equal(g.now.Add(gateway.DefaultPreviousSecretTTL)) {
		t.Fatalf("rotate with the default TTL: %v %v", def, err)
	}
	none, err := g.client.RotateAlertSecret(ctx, &pb.RotateAlertSecretRequest{Name: created.GetName(), PreviousSecretTtl: durationpb.New(0)})
	if err != nil || none.GetPreviousSecretExpireTime() != nil {
		t.Fatalf("rotate with no previous secret: %v %v", none, err)
	}
	for _, ttl := range []time.Duration{-time.Second, 7*24*time.Hour + time.Second} {
		_, err := g.client.RotateAlertSecret(ctx, &pb.RotateAlertSecretRequest{Name: created.GetName(), PreviousSecretTtl: durationpb.New(ttl)})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("previous_secret_ttl %s: %v; want InvalidArgument", ttl, err)
		}
	}

	// a test delivery: pending, test, its key from its id, the made-up moment as protojson
	test := &pb.AlertDelivery{}
	if code, body := g.rest(t, http.MethodPost, "/v1/"+created.GetName()+":test", `{}`, test); code != http.StatusOK {
		t.Fatalf("test: HTTP %d %s", code, body)
	}
	deliveryID := strings.TrimPrefix(test.GetName(), created.GetName()+"/deliveries/")
	if !test.GetTest() || test.GetState() != pb.AlertDeliveryState_ALERT_DELIVERY_STATE_PENDING || test.GetIdempotencyKey() != "tests/"+deliveryID ||
		test.GetMoment().GetChannel() != "demo_stream" || test.GetMoment().GetDescription() != gateway.TestMomentDescription ||
		test.GetMoment().GetKind() != pb.MomentKind_MOMENT_KIND_UNSPECIFIED || !test.GetMoment().GetAt().AsTime().Equal(g.now) {
		t.Fatalf("test delivery %v", test)
	}
	var column []byte
	if err := g.pool.QueryRow(ctx, "SELECT moment FROM "+alertsTestSchema+".alert_deliveries WHERE id = $1::bigint", deliveryID).Scan(&column); err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	if err := json.Unmarshal(column, &stored); err != nil || stored["channel"] != "demo_stream" || stored["description"] != gateway.TestMomentDescription || stored["at"] != "2026-12-01T09:00:00Z" || stored["kind"] != nil {
		t.Fatalf("the moment column %s (%v); want the protojson of the made-up moment", column, err)
	}

	// the role's work, as it would write it: a delivered one with two attempts
	g.exec(t, `INSERT INTO $schema.alert_deliveries (subscription_id, idempotency_key, moment, state, attempt_count, ended_at)
VALUES ($1, 'channels/demo_stream/moments/raid-1', '{"id":"raid-1","channel":"demo_stream","kind":"MOMENT_KIND_RAID"}', 'delivered', 2, now())`, id)
	g.exec(t, `INSERT INTO $schema.alert_attempts (delivery_id, number, started_at, latency_ms, status_code, error)
SELECT id, n, now(), 12.5 * n, CASE n WHEN 1 THEN 503 ELSE 200 END, CASE n WHEN 1 THEN 'status 503' ELSE '' END
FROM $schema.alert_deliveries, generate_series(1, 2) n WHERE idempotency_key = 'channels/demo_stream/moments/raid-1'`)
	g.exec(t, `INSERT INTO $schema.alert_deliveries (subscription_id, idempotency_key, moment) VALUES ($1, 'channels/demo_stream/moments/raid-2', '{"id":"raid-2"}')`, id)

	all := &pb.ListAlertDeliveriesResponse{}
	if code, body := g.rest(t, http.MethodGet, "/v1/alertSubscriptions/-/deliveries?pageSize=2", "", all); code != http.StatusOK || len(all.GetDeliveries()) != 2 || all.GetNextPageToken() == "" {
		t.Fatalf("the first page of every delivery: HTTP %d %s", code, body)
	}
	if all.GetDeliveries()[0].GetIdempotencyKey() != "channels/demo_stream/moments/raid-2" {
		t.Errorf("newest first: %v", all.GetDeliveries()[0])
	}
	delivered := all.GetDeliveries()[1]
	if a := delivered.GetAttempts(); len(a) != 2 || a[0].GetStatusCode() != 503 || a[0].GetError() != "status 503" || a[1].GetStatusCode() != 200 ||
		a[1].GetLatency().AsDuration() != 25*time.Millisecond || delivered.GetState() != pb.AlertDeliveryState_ALERT_DELIVERY_STATE_DELIVERED || delivered.GetNextAttemptTime() != nil {
		t.Fatalf("the delivered one: %v", delivered)
	}
	next, err := g.client.ListAlertDeliveries(ctx, &pb.ListAlertDeliveriesRequest{Parent: "alertSubscriptions/-", PageSize: 2, PageToken: all.GetNextPageToken()})
	if err != nil || len(next.GetDeliveries()) != 1 || next.GetDeliveries()[0].GetName() != test.GetName() || next.GetNextPageToken() != "" {
		t.Fatalf("the second page: %v %v", next, err)
	}
	pending, err := g.client.ListAlertDeliveries(ctx, &pb.ListAlertDeliveriesRequest{Parent: created.GetName(), State: pb.AlertDeliveryState_ALERT_DELIVERY_STATE_PENDING})
	if err != nil || len(pending.GetDeliveries()) != 2 {
		t.Fatalf("pending ones: %v %v", pending, err)
	}
	one, err := g.client.GetAlertDelivery(ctx, &pb.GetAlertDeliveryRequest{Name: delivered.GetName()})
	if err != nil || !proto.Equal(one, delivered) {
		t.Fatalf("get delivery: %v %v; want %v", one, err, delivered)
	}
	if got, err := g.client.GetAlertSubscription(ctx, &pb.GetAlertSubscriptionRequest{Name: created.GetName()}); err != nil || got.GetPendingDeliveries() != 2 {
		t.Fatalf("pending deliveries: %v %v", got, err)
	}

	// delete: the pending ones are dead-lettered, the log stays, the subscription is gone
	deleted := &pb.DeleteAlertSubscriptionResponse{}
	if code, body := g.rest(t, http.MethodDelete, "/v1/"+created.GetName(), "", deleted); code != http.StatusOK || deleted.GetCancelledDeliveries() != 2 {
		t.Fatalf("delete: HTTP %d %s", code, body)
	}
	dead, err := g.client.ListAlertDeliveries(ctx, &pb.ListAlertDeliveriesRequest{Parent: created.GetName(), State: pb.AlertDeliveryState_ALERT_DELIVERY_STATE_DEAD_LETTERED})
	if err != nil || len(dead.GetDeliveries()) != 2 || dead.GetDeliveries()[0].GetDeadLetterReason() != "subscription deleted" || dead.GetDeliveries()[0].GetEndTime() == nil {
		t.Fatalf("dead-lettered by the deletion: %v %v", dead, err)
	}
	for what, call := range map[string]func() error{
		"get": func() error {
			_, err := g.client.GetAlertSubscription(ctx, &pb.GetAlertSubscriptionRequest{Name: created.GetName()})
			return err
		},
		"delete": func() error {
			_, err := g.client.DeleteAlertSubscription(ctx, &pb.DeleteAlertSubscriptionRequest{Name: created.GetName()})
			return err
		},
		"rotate": func() error {
			_, err := g.client.RotateAlertSecret(ctx, &pb.RotateAlertSecretRequest{Name: created.GetName()})
			return err
		},
		"test": func() error {
			_, err := g.client.TestAlertSubscription(ctx, &pb.TestAlertSubscriptionRequest{Name: created.GetName()})
			return err
		},
		"list deliveries of one never created": func() error {
			_, err := g.client.ListAlertDeliveries(ctx, &pb.ListAlertDeliveriesRequest{Parent: "alertSubscriptions/" + strings.Repeat("0", 32)})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.NotFound {
			t.Errorf("%s after the deletion: %v; want NotFound", what, err)
		}
	}
	if code, _ := g.rest(t, http.MethodGet, "/v1/"+created.GetName(), "", nil); code != http.StatusNotFound {
		t.Errorf("GET of a deleted subscription: HTTP %d", code)
	}
	left, err := g.client.ListAlertSubscriptions(ctx, &pb.ListAlertSubscriptionsRequest{})
	if err != nil || len(left.GetSubscriptions()) != 4 {
		t.Fatalf("after the deletion: %v %v; want 4", left, err)
	}
}

// TestAlertMethodsNeedTheToken: with --auth-token the alert methods need it, over gRPC and REST.
func TestAlertMethodsNeedTheToken(t *testing.T) {
	g := startAlertsGateway(t, gateway.Config{AuthToken: "s3cret"})
	req := &pb.CreateAlertSubscriptionRequest{Subscription: &pb.AlertSubscription{Url: "https://example.com/hook"}}
	if _, err := g.client.CreateAlertSubscription(ctx, req); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without the token: %v; want Unauthenticated", err)
	}
	if code, _ := g.rest(t, http.MethodPost, "/v1/alertSubscriptions", `{"url":"https://example.com/hook"}`, nil); code != http.StatusUnauthorized {
		t.Fatalf("REST without the token: HTTP %d; want 401", code)
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer s3cret")
	if _, err := g.client.CreateAlertSubscription(authed, req); err != nil {
		t.Fatalf("with the token: %v", err)
	}
}

// TestAlertSubscriptionsAreCapped: past MaxAlertSubscriptions, creating one is
// RESOURCE_EXHAUSTED (429), not a 5xx; deleting one makes room.
func TestAlertSubscriptionsAreCapped(t *testing.T) {
	g := startAlertsGateway(t, gateway.Config{})
	g.exec(t, `INSERT INTO $schema.alert_subscriptions (id, url, secret) SELECT md5(n::text), 'https://example.com/', 'whsec_x' FROM generate_series(1, $1::int) n`, gateway.MaxAlertSubscriptions)
	req := &pb.CreateAlertSubscriptionRequest{Subscription: &pb.AlertSubscription{Url: "https://example.com/hook"}}
	if _, err := g.client.CreateAlertSubscription(ctx, req); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("one too many: %v; want ResourceExhausted", err)
	}
	if code, _ := g.rest(t, http.MethodPost, "/v1/alertSubscriptions", `{"url":"https://example.com/hook"}`, nil); code != http.StatusTooManyRequests {
		t.Fatalf("REST one too many: HTTP %d; want 429", code)
	}
	g.exec(t, `UPDATE $schema.alert_subscriptions SET deleted_at = now() WHERE id = md5('1')`)
	if _, err := g.client.CreateAlertSubscription(ctx, req); err != nil {
		t.Fatalf("after a deletion: %v", err)
	}
}
