package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDurableWritesWaitForAllReplicasAndAreIdempotent(t *testing.T) {
	cl, err := kgo.NewClient(append(DurableWrites(), kgo.SeedBrokers("127.0.0.1:1"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if acks := cl.OptValue(kgo.RequiredAcks); acks != kgo.AllISRAcks() {
		t.Errorf("acks = %v, want all in-sync replicas", acks)
	}
	if disabled := cl.OptValue(kgo.DisableIdempotentWrite); disabled != false {
		t.Errorf("idempotent writes disabled: %v", disabled)
	}
}
