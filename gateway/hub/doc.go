// Package hub fans the gateway's single stream of channel events (fed by one
// Kafka consumer per process) out to every SubscribeChannelEvents subscriber.
//
// The hub is pure Go: Publish takes events from the consumer, Subscribe
// registers a subscriber with a Filter and an optional snapshot, and each
// Subscription's Next hands the subscriber its next ChannelEvent with a
// per-subscription sequence number and emitted_at, or a Heartbeat when
// nothing was sent for the heartbeat interval.
//
// # Slow consumers
//
// Publish never waits for a subscriber, and one subscriber never slows
// another: for each matching subscriber Publish takes only that subscriber's
// lock, long enough to queue one event, then signals it through a channel of
// capacity 1 (there is no goroutine per subscriber). Each subscription has a
// bounded queue of pending live events (WithBufferSize, default 1024; snapshot
// events are queued in addition and do not count against it). A provisional
// window update whose CoalesceKey matches a provisional update still pending
// for that subscriber replaces it in place: the subscriber keeps the older
// update's queue position but gets the newer payload, and the replacement is
// counted in telemetra_gateway_subscriber_coalesced_total. Every other event is
// appended. If the queue is still full after coalescing, the subscriber is
// dropped, as NATS does with slow consumers: it is removed from the hub
// (Subscribers decreases), its pending events are released, Next returns
// ErrSlowConsumer at once (saying how many events were pending and the buffer
// size) without delivering them, and
// telemetra_gateway_subscribers_dropped_total{reason="slow"} is incremented.
// Single events are never dropped, so a subscriber either receives every event
// that matches its filter in publish order (provisional updates possibly
// coalesced) or learns that it was cut off and must resubscribe, typically
// with a fresh snapshot. Heartbeat.dropped_events is therefore always 0;
// coalesced updates are not counted there.
package hub
