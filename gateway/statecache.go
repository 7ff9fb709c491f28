package gateway

import (
	"bytes"
	"sync"

	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// stateCache keeps each channel's state decoded from the bytes the view last held for it. A
// state is kilobytes, and decoding it was about 90% of a GetChannel's own CPU (docs/api.md);
// the processor writes a channel's state at most once per flush (200 ms), while readers may
// ask for it thousands of times a second.
//
// A cached state is shared by every reader that gets it, so readers must not change it: the
// live reads only build responses from it (channelFromState, table.Preview clones what it
// changes).
type stateCache struct {
	max    int // channels kept; beyond, one is dropped for each one added
	decode func([]byte) (*pb.ChannelState, error)

	mu    sync.Mutex
	byKey map[string]decodedState
}

type decodedState struct {
	raw []byte
	st  *pb.ChannelState
}

func newStateCache(bound int) *stateCache {
	return &stateCache{max: bound, decode: table.DecodeState, byKey: map[string]decodedState{}}
}

// get returns the state encoded in raw, the channel's current value in the view.
func (c *stateCache) get(channel string, raw []byte) (*pb.ChannelState, error) {
	c.mu.Lock()
	d, ok := c.byKey[channel]
	c.mu.Unlock()
	// the view replaces a value's bytes, never changes them: equal bytes, same state
	if ok && bytes.Equal(d.raw, raw) {
		return d.st, nil
	}
	st, err := c.decode(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, held := c.byKey[channel]; !held && len(c.byKey) >= c.max {
		for k := range c.byKey { // an arbitrary one: Go's map order
			delete(c.byKey, k)
			break
		}
	}
	c.byKey[channel] = decodedState{raw: raw, st: st}
	return st, nil
}
