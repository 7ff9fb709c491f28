package alerts

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// TestARestartMidRetryLosesNothingAndKeepsTheKeys: the role is stopped while its deliveries are
// being retried against a failing receiver, and started again; once the receiver recovers every
// delivery arrives, under the key it had before the restart, and no delivery row is added.
func TestARestartMidRetryLosesNothingAndKeepsTheKeys(t *testing.T) {
	e := newEnv(t)
	var recovered atomic.Bool
	rc := newReceiver(t, []string{"k"}, func(int, request) int {
		if recovered.Load() {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	e.subscribe(t, "flaky", rc.URL, "k")
	var ms []*pb.Moment
	for range 4 {
		ms = append(ms, moment("demo", time.Now()))
	}
	e.produce(t, ms...)
	cfg := e.config()
	cfg.MaxAttempts = 1000
	stop := start(t, cfg)
	testkit.WaitFor(t, "two failed attempts of every delivery", time.Minute, func() error {
		ds := e.deliveries(t)
		for _, d := range ds {
			if d.attempts < 2 {
				return fmt.Errorf("%+v", ds)
			}
		}
		if len(ds) < len(ms) {
			return fmt.Errorf("%d deliveries", len(ds))
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	before := e.deliveries(t)
	failedBefore := len(rc.requests())
	for _, d := range before {
		if d.state != statePending {
			t.Fatalf("delivery %+v ended before the restart", d)
		}
	}

	recovered.Store(true)
	start(t, cfg)
	after := e.waitEnded(t, len(ms))
	if len(after) != len(before) {
		t.Errorf("%d deliveries after the restart, %d before", len(after), len(before))
	}
	for i, d := range after {
		if d.key != before[i].key || d.state != stateDelivered {
			t.Errorf("delivery %d: %+v after the restart, %+v before", i, d, before[i])
		}
	}
	keys := map[string]int{}
	for _, m := range ms {
		keys[IdempotencyKey(m)] = 0
	}
	for _, r := range rc.requests() {
		k := r.header.Get(HeaderID)
		if _, ok := keys[k]; !ok {
			t.Errorf("a request with key %q, not a moment's", k)
		}
		keys[k]++
	}
	if failedBefore < 2*len(ms) {
		t.Errorf("only %d failed requests before the restart: it did not happen mid-retry", failedBefore)
	}
	for k, n := range keys {
		if n < 3 {
			t.Errorf("%s: %d requests, want at least 2 failed and 1 delivered", k, n)
		}
	}
}

// errCrash is the crash TestACrashBeforeTheCommitRepeatsNoDelivery injects.
var errCrash = errors.New("crash between queueing and committing")

// TestACrashBeforeTheCommitRepeatsNoDelivery: the role dies after writing a batch's deliveries
// but before committing them with its offsets; the next run queues each moment once, and a
// later run, with the offsets in PostgreSQL, queues and sends nothing again.
func TestACrashBeforeTheCommitRepeatsNoDelivery(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, []string{"k"}, func(int, request) int { return http.StatusOK })
	e.subscribe(t, "ok", rc.URL, "k")
	first := []*pb.Moment{moment("demo", time.Now()), moment("demo", time.Now()), moment("demo", time.Now())}
	e.produce(t, first...)

	var crashes atomic.Int32
	cfg := e.config()
	cfg.beforeCommit = func() error { crashes.Add(1); return errCrash }
	stopCrashing := start(t, cfg)
	testkit.WaitFor(t, "the injected crash", time.Minute, func() error {
		if crashes.Load() == 0 {
			return errors.New("no batch reached its commit yet")
		}
		return nil
	})
	if err := stopCrashing(); err != nil {
		t.Fatal(err)
	}
	if n := len(e.deliveries(t)); n != 0 {
		t.Fatalf("%d deliveries stored by a batch that never committed", n)
	}
	if len(rc.requests()) != 0 {
		t.Fatal("a delivery of an uncommitted batch was sent")
	}

	cfg.beforeCommit = nil
	stop := start(t, cfg)
	e.waitEnded(t, len(first))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// a third run reads on from the stored offsets: only the new moment is queued
	late := moment("demo", time.Now())
	e.produce(t, late)
	start(t, cfg)
	ds := e.waitEnded(t, len(first)+1)
	if len(ds) != len(first)+1 {
		t.Errorf("%d deliveries, want %d", len(ds), len(first)+1)
	}
	sent := map[string]int{}
	for _, r := range rc.requests() {
		sent[r.header.Get(HeaderID)]++
	}
	for _, m := range append(first, late) {
		if n := sent[IdempotencyKey(m)]; n != 1 {
			t.Errorf("%s sent %d times, want once", IdempotencyKey(m), n)
		}
	}
	if crashes.Load() == 0 {
		t.Error("the crash was never injected")
	}
}
