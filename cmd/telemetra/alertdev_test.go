package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telemetra/telemetra/alerts"
	"github.com/telemetra/telemetra/internal/testkit"
)

// signedReceiver is a webhook receiver on loopback that verifies every request with the
// documented scheme and fails each key's first attempt (503), so every delivery is retried once.
type signedReceiver struct {
	mu       sync.Mutex
	secret   string
	attempts map[string][]string // idempotency key → the payloads' types, one per attempt
	bad      []string            // requests whose signature did not verify
}

func (r *signedReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := alerts.VerifyRequest([]string{r.secret}, req.Header, body, time.Now()); err != nil {
		r.bad = append(r.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p alerts.Payload
	_ = json.Unmarshal(body, &p)
	key := req.Header.Get(alerts.HeaderID)
	if p.ID != key {
		r.bad = append(r.bad, fmt.Sprintf("payload id %q under key %q", p.ID, key))
	}
	r.attempts[key] = append(r.attempts[key], p.Type)
	if len(r.attempts[key]) == 1 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// TestAlertsOnDevReachASignedReceiver drives the whole path on `telemetra dev`: a subscription
// created over REST ("a raid with more than 500 viewers on gaming"), raids written into the
// input topic with kcat, the processor's moments, the alert role's signed POSTs to a receiver on
// loopback that fails each first attempt, the delivery log over REST, and `telemetra alert test`.
func TestAlertsOnDevReachASignedReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed (apt-get install kcat)")
	}
	d := startDev(t)
	d.awaitLiveData(t, 60*time.Second)
	recv := &signedReceiver{attempts: map[string][]string{}}
	server := httptest.NewServer(recv)
	defer server.Close()

	var sub struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	}
	created := d.curl(t, "-X", "POST", d.base+"/v1/alertSubscriptions", "-H", "Content-Type: application/json",
		"-d", fmt.Sprintf(`{"url": %q, "channel": "gaming", "kinds": ["MOMENT_KIND_RAID"], "minRaidViewers": "500"}`, server.URL+"/hooks"))
	if err := json.Unmarshal(created, &sub); err != nil || sub.Secret == "" || !strings.HasPrefix(sub.Name, "alertSubscriptions/") {
		t.Fatalf("create: %s (%v)", created, err)
	}
	recv.mu.Lock()
	recv.secret = sub.Secret
	recv.mu.Unlock()
	time.Sleep(3 * time.Second) // the role reads its subscriptions every 2 s

	// two raids on gaming, now: one small (filtered out), one big
	partition := strings.Fields(string(d.run(t, "topics", "partition", "--brokers", d.brokerAddr, "gaming")))
	if len(partition) < 2 {
		t.Fatalf("topics partition printed %q", partition)
	}
	now := time.Now().UTC()
	var lines []string
	for k, viewers := range []int{120, 800} {
		lines = append(lines, fmt.Sprintf(`gaming|{"event_id": "a1e7a1e7-0000-4000-8000-00000000000%d", "channel": "gaming", "event_type": "raid_incoming", "title": "Ranked grind", "timestamp": %q, "raid_from": "demo_stream", "raid_viewers": %d}`,
			k, now.Add(time.Duration(k)*time.Second).Format(time.RFC3339Nano), viewers))
	}
	cmd := exec.Command(kcat, "-P", "-b", d.brokerAddr, "-t", "telemetra.events.stream_meta", "-p", partition[1], "-K", "|")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}

	// the big raid is delivered, after one failed attempt, under the moment's name; the small
	// one never is
	var raidKey string
	testkit.WaitFor(t, "the raid's delivery", 90*time.Second, func() error {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for key, types := range recv.attempts {
			if strings.HasPrefix(key, "channels/gaming/moments/raid-") && len(types) >= 2 {
				raidKey = key
				return nil
			}
		}
		moments, _ := d.get("/v1/channels/gaming/moments?kinds=MOMENT_KIND_RAID")
		log, _ := d.get("/v1/" + sub.Name + "/deliveries")
		return fmt.Errorf("attempts so far: %v; gaming's raids: %s; the log: %s", recv.attempts, moments, log)
	})
	var log struct {
		Deliveries []struct {
			IdempotencyKey string `json:"idempotencyKey"`
			State          string `json:"state"`
			AttemptCount   int    `json:"attemptCount"`
			Moment         struct {
				Raid struct {
					Viewers string `json:"viewers"`
				} `json:"raid"`
			} `json:"moment"`
			Attempts []struct {
				StatusCode int `json:"statusCode"`
			} `json:"attempts"`
		} `json:"deliveries"`
	}
	testkit.WaitFor(t, "the delivery log to say delivered", 30*time.Second, func() error {
		out := d.curl(t, d.base+"/v1/"+sub.Name+"/deliveries")
		if err := json.Unmarshal(out, &log); err != nil {
			return err
		}
		if len(log.Deliveries) != 1 || log.Deliveries[0].State != "ALERT_DELIVERY_STATE_DELIVERED" {
			return fmt.Errorf("log: %s", out)
		}
		return nil
	})
	got := log.Deliveries[0]
	if got.IdempotencyKey != raidKey || got.AttemptCount != 2 || got.Moment.Raid.Viewers != "800" ||
		len(got.Attempts) != 2 || got.Attempts[0].StatusCode != 503 || got.Attempts[1].StatusCode != 200 {
		t.Errorf("delivery %+v, want key %s, 2 attempts (503, 200), the raid of 800", got, raidKey)
	}

	// telemetra alert test: a sample through the same path, retried once, printed
	out, err := exec.Command(d.bin, "alert", "test", "--addr", d.grpcAddr, sub.Name).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "delivered after 2 attempt(s)") {
		t.Errorf("alert test: %v\n%s", err, out)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.bad) > 0 {
		t.Errorf("requests the receiver refused: %v", recv.bad)
	}
	for key, types := range recv.attempts {
		if !strings.HasPrefix(key, "tests/") && key != raidKey {
			t.Errorf("unexpected delivery %s (%v): the small raid passed the filter?", key, types)
		}
	}
}

// curl runs curl -sS --fail-with-body with args, and the pipeline's token if it has one.
func (d *devPipeline) curl(t *testing.T, args ...string) []byte {
	t.Helper()
	all := append([]string{"-sS", "--fail-with-body"}, args...)
	if d.authToken != "" {
		all = append(all, "-H", "Authorization: Bearer "+d.authToken)
	}
	out, err := exec.Command("curl", all...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v: %s", args, err, out)
	}
	return out
}

// run runs the pipeline's binary with args.
func (d *devPipeline) run(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(d.bin, args...).Output()
	if err != nil {
		t.Fatalf("telemetra %v: %v", args, err)
	}
	return out
}
