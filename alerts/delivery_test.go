package alerts

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// TestEveryAlertIsDeliveredWithTheSameKeyOnEachRetry: a receiver that fails each delivery's
// first three attempts, then recovers, gets every matching moment, each attempt signed and
// carrying the delivery's key; moments of another channel or older than the max age are not
// sent.
func TestEveryAlertIsDeliveredWithTheSameKeyOnEachRetry(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, []string{"s3cret"}, func(n int, _ request) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	e.subscribe(t, "demo-spikes", rc.URL, "s3cret")
	e.exec(t, "UPDATE alert_subscriptions SET channel = 'demo', kinds = '{chat_spike}', min_abs_z_score = 4")
	now := time.Now()
	wanted := []*pb.Moment{moment("demo", now), moment("demo", now.Add(-time.Minute)), moment("demo", now.Add(-2*time.Minute))}
	other := moment("gaming", now)
	weak := moment("demo", now)
	weak.ZScore = 3
	old := moment("demo", now.Add(-2*time.Hour))
	e.produce(t, append([]*pb.Moment{other, weak, old}, wanted...)...)

	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.MaxMomentAge, cfg.Metrics = 15*time.Minute, NewMetrics(reg)
	start(t, cfg)
	ds := e.waitEnded(t, len(wanted))

	if len(ds) != len(wanted) {
		t.Fatalf("%d deliveries, want %d: %+v", len(ds), len(wanted), ds)
	}
	for _, d := range ds {
		if d.state != stateDelivered || !slices.Equal(d.statuses, []int{503, 503, 503, 200}) || d.attempts != 4 {
			t.Errorf("delivery %+v: want delivered at the 4th attempt after three 503s", d)
		}
	}
	byKey := map[string][]request{}
	for _, r := range rc.requests() {
		if r.verified != nil {
			t.Errorf("request of %s: the signature does not verify: %v", r.header.Get(HeaderID), r.verified)
		}
		byKey[r.header.Get(HeaderID)] = append(byKey[r.header.Get(HeaderID)], r)
	}
	if len(byKey) != len(wanted) {
		t.Errorf("requests with %d keys, want %d", len(byKey), len(wanted))
	}
	for _, m := range wanted {
		key := IdempotencyKey(m)
		reqs := byKey[key]
		if len(reqs) != 4 {
			t.Errorf("%s: %d requests, want 4 (3 failed, then delivered)", key, len(reqs))
			continue
		}
		for i, r := range reqs {
			if got := r.header.Get(HeaderAttempt); got != strconv.Itoa(i+1) {
				t.Errorf("%s request %d: attempt header %q", key, i+1, got)
			}
			var p Payload
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			if p.ID != key || p.Type != "moment.chat_spike" || p.Subscription != "alertSubscriptions/demo-spikes" || p.Test {
				t.Errorf("payload %+v", p)
			}
			if string(r.body) != string(reqs[0].body) {
				t.Errorf("%s: attempt %d's body differs from the first's", key, i+1)
			}
		}
	}
	for result, want := range map[string]float64{momentQueued: 3, momentNoMatch: 2, momentTooOld: 1} {
		if got := testutil.ToFloat64(cfg.Metrics.moments.WithLabelValues(result)); got != want {
			t.Errorf("moments %s = %v, want %v", result, got, want)
		}
	}
	if got := testutil.ToFloat64(cfg.Metrics.attempts.WithLabelValues(attemptHTTPError)); got != 9 {
		t.Errorf("failed attempts counted %v, want 9", got)
	}
	if got := testutil.ToFloat64(cfg.Metrics.deliveries.WithLabelValues(stateDelivered)); got != 3 {
		t.Errorf("delivered counted %v, want 3", got)
	}
}

// TestAfterMaxAttemptsADeliveryIsDeadLettered: a receiver that never recovers gets MaxAttempts
// attempts, then the delivery is dead-lettered and listed, each attempt in the log.
func TestAfterMaxAttemptsADeliveryIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, []string{"k"}, func(int, request) int { return http.StatusInternalServerError })
	e.subscribe(t, "down", rc.URL, "k")
	e.produce(t, moment("demo", time.Now()))
	cfg := e.config()
	cfg.MaxAttempts, cfg.Metrics = 4, NewMetrics(prometheus.NewRegistry())
	start(t, cfg)
	ds := e.waitEnded(t, 1)
	d := ds[0]
	if d.state != stateDeadLettered || d.reason != ReasonAttemptsExhausted || d.attempts != 4 || !slices.Equal(d.statuses, []int{500, 500, 500, 500}) {
		t.Errorf("delivery %+v: want dead-lettered after 4 attempts answered 500", d)
	}
	if n := len(rc.requests()); n != 4 {
		t.Errorf("the receiver got %d requests, want 4", n)
	}
	if got := testutil.ToFloat64(cfg.Metrics.deadLetters.WithLabelValues(ReasonAttemptsExhausted)); got != 1 {
		t.Errorf("dead letters counted %v", got)
	}
}

// TestSignaturesDuringARotation: while the previous secret is valid a delivery carries a
// signature for each secret, so a receiver on either verifies it; after it expires only the new
// one does.
func TestSignaturesDuringARotation(t *testing.T) {
	e := newEnv(t)
	onOld := newReceiver(t, []string{"old"}, func(int, request) int { return http.StatusOK })
	onNew := newReceiver(t, []string{"new"}, func(int, request) int { return http.StatusOK })
	expired := newReceiver(t, []string{"old"}, func(int, request) int { return http.StatusOK })
	e.subscribe(t, "on-old", onOld.URL, "new")
	e.subscribe(t, "on-new", onNew.URL, "new")
	e.subscribe(t, "expired", expired.URL, "new")
	e.exec(t, "UPDATE alert_subscriptions SET previous_secret = 'old', previous_secret_expires_at = now() + interval '1 hour' WHERE id <> 'expired'")
	e.exec(t, "UPDATE alert_subscriptions SET previous_secret = 'old', previous_secret_expires_at = now() - interval '1 second' WHERE id = 'expired'")
	e.produce(t, moment("demo", time.Now()))
	start(t, e.config())
	e.waitEnded(t, 3)
	for name, rc := range map[string]*receiver{"on the old secret": onOld, "on the new secret": onNew} {
		reqs := rc.requests()
		if len(reqs) != 1 || reqs[0].verified != nil {
			t.Errorf("receiver %s: %d requests, first verified: %v", name, len(reqs), reqs[0].verified)
		}
		if n := len(strings.Split(reqs[0].header.Get(HeaderSignature), ",")); n != 2 {
			t.Errorf("receiver %s: %d signatures during the rotation, want 2", name, n)
		}
	}
	// its requests failed verification at the receiver, which answered 200 anyway (a test
	// receiver): what matters is that the expired secret no longer signs
	for _, r := range expired.requests() {
		if r.verified == nil {
			t.Error("a delivery verifies with a previous secret that has expired")
		}
		if n := len(strings.Split(r.header.Get(HeaderSignature), ",")); n != 1 {
			t.Errorf("%d signatures after the rotation ended, want 1", n)
		}
	}
}

// TestAHangingReceiverDoesNotDelayAnother: while one receiver holds its first attempt open, a
// second receiver gets all its deliveries.
func TestAHangingReceiverDoesNotDelayAnother(t *testing.T) {
	e := newEnv(t)
	stuck := newReceiver(t, []string{"a"}, func(int, request) int { return hang })
	healthy := newReceiver(t, []string{"b"}, func(int, request) int { return http.StatusOK })
	e.subscribe(t, "stuck", stuck.URL, "a")
	e.subscribe(t, "healthy", healthy.URL, "b")
	var ms []*pb.Moment
	for i := range 10 {
		ms = append(ms, moment(fmt.Sprintf("ch%d", i%3), time.Now()))
	}
	e.produce(t, ms...)
	cfg := e.config()
	cfg.AttemptTimeout = 5 * time.Minute // it hangs for the whole test
	start(t, cfg)
	testkit.WaitFor(t, "the healthy receiver's deliveries", time.Minute, func() error {
		delivered := 0
		for _, d := range e.deliveries(t) {
			if d.subscription == "healthy" && d.state == stateDelivered {
				delivered++
			}
		}
		if delivered < len(ms) {
			return fmt.Errorf("%d of %d delivered", delivered, len(ms))
		}
		return nil
	})
	if n := stuck.hanging(); n != 1 {
		t.Errorf("%d attempts hanging at the stuck receiver when the other had all its deliveries, want 1 (its worker's first)", n)
	}
	for _, d := range e.deliveries(t) {
		if d.subscription == "stuck" && (d.state != statePending || d.attempts != 0) {
			t.Errorf("stuck delivery %+v: want pending, no attempt recorded yet", d)
		}
	}
}

// TestAFullQueueDeadLettersNewDeliveries: past MaxPending pending deliveries, a subscription's
// new deliveries are stored dead-lettered ("queue full") and listed, never dropped.
func TestAFullQueueDeadLettersNewDeliveries(t *testing.T) {
	e := newEnv(t)
	stuck := newReceiver(t, []string{"a"}, func(int, request) int { return hang })
	e.subscribe(t, "stuck", stuck.URL, "a")
	var ms []*pb.Moment
	for range 5 {
		ms = append(ms, moment("demo", time.Now()))
	}
	e.produce(t, ms...)
	cfg := e.config()
	cfg.AttemptTimeout, cfg.MaxPending, cfg.Metrics = 5*time.Minute, 2, NewMetrics(prometheus.NewRegistry())
	start(t, cfg)
	var ds []delivery
	testkit.WaitFor(t, "every moment's delivery", time.Minute, func() error {
		if ds = e.deliveries(t); len(ds) < len(ms) {
			return fmt.Errorf("%d of %d", len(ds), len(ms))
		}
		return nil
	})
	states := map[string]int{}
	for _, d := range ds {
		states[d.state+"/"+d.reason]++
	}
	if want := map[string]int{"pending/": 2, "dead_lettered/queue full": 3}; fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("deliveries by state: %v, want %v", states, want)
	}
	if stuck.hanging() != 1 {
		t.Errorf("the receiver holds %d attempts, want 1: the queue was full because it hangs", stuck.hanging())
	}
	if got := testutil.ToFloat64(cfg.Metrics.deadLetters.WithLabelValues(ReasonQueueFull)); got != 3 {
		t.Errorf("queue-full dead letters counted %v, want 3", got)
	}
}
