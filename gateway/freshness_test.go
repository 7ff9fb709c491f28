package gateway

import (
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestTheViewKeepsTheNewestUpdateTimeOfTheStatesItStores(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := &newestUpdate{}
	st := storage.NewMemory()
	update := func(key string, value []byte) {
		t.Helper()
		if err := n.viewCallback(&goka.DefaultUpdateContext{}, st, key, value); err != nil {
			t.Fatal(err)
		}
	}
	state := func(at time.Time) []byte {
		b, err := proto.Marshal(&pb.ChannelState{Channel: "x", LastEventProcessingTime: timestamppb.New(at)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !n.newest().IsZero() {
		t.Fatal("a newest update before any state")
	}
	update("gaming", state(t0.Add(2*time.Second)))
	update("cozy_cafe", state(t0)) // older than the newest: no change
	update("~clock-0", []byte("a partition clock, not a state"))
	update("garbage", []byte{0x42, 0xff}) // unreadable: stored, not observed
	update("gaming", nil)                 // a delete
	if got := n.newest(); !got.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("newest = %v, want %v", got, t0.Add(2*time.Second))
	}
	if v, err := st.Get("cozy_cafe"); err != nil || v == nil {
		t.Errorf("the state was not stored: %v, %v", v, err)
	}
	if v, _ := st.Get("gaming"); v != nil {
		t.Error("the deleted state is still stored")
	}

	// partitions update concurrently: the newest of all wins
	var wg sync.WaitGroup
	for k := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				n.observe(t0.Add(time.Duration(k*1000+j) * time.Millisecond))
			}
		}()
	}
	wg.Wait()
	if got := n.newest(); !got.Equal(t0.Add(7999 * time.Millisecond)) {
		t.Errorf("after concurrent updates newest = %v, want %v", got, t0.Add(7999*time.Millisecond))
	}
}
