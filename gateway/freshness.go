package gateway

import (
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/telemetra/telemetra/processors/table"
)

// newestUpdate is the newest update time among the channel states a view has seen, kept as the
// view applies each update, so that the live freshness costs no scan of the states. States'
// update times only move forward, so the newest seen is the newest held.
type newestUpdate struct {
	unixNano atomic.Int64 // 0: no state seen yet
}

// observe raises the newest update time to at, if later.
func (n *newestUpdate) observe(at time.Time) {
	if at.IsZero() {
		return
	}
	v := at.UnixNano()
	for {
		cur := n.unixNano.Load()
		if v <= cur || n.unixNano.CompareAndSwap(cur, v) {
			return
		}
	}
}

// newest is the newest update time seen; zero before the first state.
func (n *newestUpdate) newest() time.Time {
	v := n.unixNano.Load()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// viewCallback is goka's default update of the view's storage, plus n observing the update
// time of each channel state (read from its bytes, not decoded: table.StateUpdateTime). A
// state whose update time cannot be read is stored all the same: reading it fails where it
// is served.
func (n *newestUpdate) viewCallback(ctx goka.UpdateContext, s storage.Storage, key string, value []byte) error {
	if err := goka.DefaultUpdate(ctx, s, key, value); err != nil {
		return err
	}
	if value == nil || table.IsClockKey(key) {
		return nil
	}
	if at, err := table.StateUpdateTime(value); err == nil {
		n.observe(at)
	}
	return nil
}
