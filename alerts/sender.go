package alerts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// sender sends the pending deliveries: one worker per subscription that has some, so a slow or
// hanging receiver holds its own worker only (each attempt is bounded by AttemptTimeout, and a
// worker's connections are its own transport's). The queue of a worker is its subscription's
// pending rows in the outbox, oldest due first: durable, bounded by MaxPending, shared by the
// instances; a worker holds one claimed delivery at a time.
type sender struct {
	cfg  Config
	st   *store
	subs *subscriptions

	mu      sync.Mutex
	workers map[string]*worker
	wg      sync.WaitGroup
	kick    chan struct{} // the consumer queued deliveries: look now
}

func newSender(cfg Config, st *store, subs *subscriptions) *sender {
	return &sender{cfg: cfg, st: st, subs: subs, workers: map[string]*worker{}, kick: make(chan struct{}, 1)}
}

// wake makes the workers of subscriptionIDs look for due deliveries now, not at the next poll.
func (s *sender) wake(subscriptionIDs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range subscriptionIDs {
		if w, ok := s.workers[id]; ok {
			w.poke()
		}
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run polls the outbox until ctx ends: it starts a worker for each live subscription with due
// deliveries, stops those of subscriptions gone, and sets the queue-depth gauges.
func (s *sender) run(ctx context.Context) {
	defer s.wg.Wait()
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		s.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

func (s *sender) poll(ctx context.Context) {
	backlogs, err := s.st.backlogs(ctx, s.cfg.Now())
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("read the pending deliveries; retrying at the next poll", "err", err)
			s.cfg.Metrics.retries.Inc()
		}
		return
	}
	live := map[string]Subscription{}
	for _, sub := range s.subs.get() {
		live[sub.ID] = sub
	}
	var total, deepest int64
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range backlogs {
		total += b.pending
		deepest = max(deepest, b.pending)
		if _, ok := live[b.subscriptionID]; !ok || !b.due {
			continue
		}
		w, ok := s.workers[b.subscriptionID]
		if !ok {
			w = s.startWorker(ctx, b.subscriptionID)
		}
		w.poke()
	}
	for id, w := range s.workers {
		if _, ok := live[id]; !ok {
			w.stop()
			delete(s.workers, id)
		}
	}
	s.cfg.Metrics.pending.Set(float64(total))
	s.cfg.Metrics.deepest.Set(float64(deepest))
}

// startWorker starts subscriptionID's worker; s.mu is held.
func (s *sender) startWorker(ctx context.Context, subscriptionID string) *worker {
	wctx, cancel := context.WithCancel(ctx)
	w := &worker{cfg: s.cfg, st: s.st, subscriptionID: subscriptionID, wakeup: make(chan struct{}, 1), cancel: cancel,
		client: newReceiverClient(s.cfg.AttemptTimeout)}
	s.workers[subscriptionID] = w
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		w.run(wctx)
	}()
	return w
}

// newReceiverClient is a worker's HTTP client: its own transport (one connection to the
// receiver, bounded dial, TLS and header waits), no redirects (a 3xx is a failure: the URL the
// user registered is the one that gets the payload), and a timeout on the whole attempt.
func newReceiverClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: min(timeout, 5*time.Second)}).DialContext,
			MaxConnsPerHost:       1,
			MaxIdleConns:          1,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   min(timeout, 5*time.Second),
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// worker sends one subscription's due deliveries, one at a time, oldest first.
type worker struct {
	cfg            Config
	st             *store
	subscriptionID string
	wakeup         chan struct{}
	cancel         context.CancelFunc
	client         *http.Client
}

func (w *worker) poke() {
	select {
	case w.wakeup <- struct{}{}:
	default:
	}
}

func (w *worker) stop() { w.cancel() }

func (w *worker) run(ctx context.Context) {
	defer w.client.CloseIdleConnections()
	for {
		more, err := w.sendNext(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.cfg.Logger.Warn("delivery worker: PostgreSQL failed; retrying at the next poll", "subscription", w.subscriptionID, "err", err)
			w.cfg.Metrics.retries.Inc()
		}
		if more && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wakeup:
		}
	}
}

// sendNext claims the subscription's next due delivery, makes one attempt and records it. It
// reports whether there was one.
func (w *worker) sendNext(ctx context.Context) (bool, error) {
	now := w.cfg.Now()
	c, err := w.st.claim(ctx, w.subscriptionID, now, now.Add(w.cfg.lease()))
	if err != nil || c == nil {
		return false, err
	}
	a := w.attempt(ctx, c)
	if ctx.Err() != nil {
		// stopping: the attempt was cut short by us, not answered by the receiver. It is given
		// back unrecorded and made again with the same key (the receiver may have seen it).
		return true, w.st.release(context.WithoutCancel(ctx), c, w.cfg.Now())
	}
	o := w.outcomeOf(a)
	var recorded bool
	err = retry(ctx, w.cfg, "record an attempt", func() error {
		var err error
		recorded, err = w.st.record(ctx, c, a, o, w.cfg.Now())
		return err
	})
	if err != nil {
		return true, err // the lease expires and the delivery is sent again, with the same key
	}
	if recorded {
		w.observe(c, a, o)
	}
	return true, nil
}

// attempt POSTs a claimed delivery once.
func (w *worker) attempt(ctx context.Context, c *claimed) attempt {
	a := attempt{number: c.attempts + 1, startedAt: w.cfg.Now(), kind: attemptConnectionError}
	body, err := BuildPayload(c.key, c.subscriptionID, c.createdAt, c.test, c.moment)
	if err != nil {
		a.err = err.Error()
		return a
	}
	ts := a.startedAt.Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		a.err = "bad url: " + err.Error()
		return a
	}
	SetHeaders(req.Header, c.key, a.number, ts, SignatureHeader(c.secrets, ts, body))
	started := time.Now()
	resp, err := w.client.Do(req)
	a.latency = time.Since(started)
	if err != nil {
		a.err, a.kind = shorten(err.Error()), attemptConnectionError
		if isTimeout(err) {
			a.err, a.kind = "timeout after "+w.cfg.AttemptTimeout.String()+": "+a.err, attemptTimeout
		}
		return a
	}
	// read a little of the answer so the connection can be reused; its content is not kept
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	a.statusCode, a.kind = resp.StatusCode, attemptSuccess
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		a.err, a.kind = "HTTP "+resp.Status, attemptHTTPError
	}
	return a
}

// outcomeOf is where a delivery stands after attempt a: delivered on 2xx; after a failure,
// retried after a jittered backoff, or dead-lettered once MaxAttempts were made.
func (w *worker) outcomeOf(a attempt) outcome {
	switch {
	case a.err == "":
		return outcome{state: stateDelivered}
	case a.number >= w.cfg.MaxAttempts:
		return outcome{state: stateDeadLettered, reason: ReasonAttemptsExhausted}
	default:
		return outcome{state: statePending, nextAttemptAt: w.cfg.Now().Add(w.cfg.Backoff.Delay(a.number, w.cfg.Random))}
	}
}

func (w *worker) observe(c *claimed, a attempt, o outcome) {
	m := w.cfg.Metrics
	m.attempts.WithLabelValues(a.kind).Inc()
	m.latency.Observe(a.latency.Seconds())
	log := w.cfg.Logger.With("subscription", c.subscriptionID, "delivery", c.id, "key", c.key, "attempt", a.number,
		"status", a.statusCode, "latency", a.latency.Round(time.Millisecond))
	switch o.state {
	case stateDelivered:
		m.deliveries.WithLabelValues(stateDelivered).Inc()
		log.Info("delivered")
	case stateDeadLettered:
		m.deliveries.WithLabelValues(stateDeadLettered).Inc()
		m.deadLetters.WithLabelValues(o.reason).Inc()
		log.Warn("delivery dead-lettered", "reason", o.reason, "err", a.err)
	default:
		log.Info("attempt failed; retrying", "err", a.err, "next_attempt_at", o.nextAttemptAt)
	}
}

// The outcomes of an attempt (telemetra_alert_attempts_total's label).
const (
	attemptSuccess         = "success"
	attemptHTTPError       = "http_error"
	attemptTimeout         = "timeout"
	attemptConnectionError = "connection_error" // also a delivery that cannot be sent at all (a bad URL)
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// shorten keeps an error short enough for the delivery log.
func shorten(s string) string {
	const limit = 300
	if len(s) <= limit {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:limit], len(s))
}
