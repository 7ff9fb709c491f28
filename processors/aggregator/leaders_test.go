package aggregator

import (
	"testing"
	"time"
)

func TestLeaderWatchHoldsAPartitionForGraceAfterItsLeaderChanged(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	chat0, chat1 := topicPartition{"chat", 0}, topicPartition{"chat", 1}
	steps := []struct {
		name  string
		tp    topicPartition
		epoch int32
		at    time.Duration
		want  bool
	}{
		{"the first epoch seen is settled", chat0, 4, 0, true},
		{"the same epoch stays settled", chat0, 4, time.Second, true},
		{"a new epoch: a failover", chat0, 5, 2 * time.Second, false},
		{"still within grace", chat0, 5, 11 * time.Second, false},
		{"grace over", chat0, 5, 12 * time.Second, true},
		{"another partition is its own", chat1, 0, 12 * time.Second, true},
		{"an epoch unknown to the broker is no change", chat1, -1, 13 * time.Second, true},
		{"a second failover starts a new grace", chat0, 6, 20 * time.Second, false},
		{"and it ends too", chat0, 6, 30 * time.Second, true},
	}
	w := newLeaderWatch(10 * time.Second)
	for _, s := range steps {
		if got := w.settled(s.tp, s.epoch, t0.Add(s.at)); got != s.want {
			t.Fatalf("%s: settled = %v, want %v", s.name, got, s.want)
		}
	}
}
