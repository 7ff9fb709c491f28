package kafka

import (
	"fmt"
	"testing"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// gokaPartition is how a goka View finds a key's partition (view.go: hash, abs, modulo).
func gokaPartition(key string, n int) int {
	h := goka.DefaultHasher()()
	_, _ = h.Write([]byte(key))
	p := int32(h.Sum32())
	if p < 0 {
		p = -p
	}
	return int(p % int32(n))
}

func TestPartitionForKeyAgreesWithGoka(t *testing.T) {
	part := GokaPartitioner().ForTopic("t")
	for k := range 10_000 {
		key := fmt.Sprintf("channel_%05d", k)
		for _, n := range []int{1, 3, 7, 12} {
			want := gokaPartition(key, n)
			if got := PartitionForKey([]byte(key), n); got != want {
				t.Fatalf("PartitionForKey(%q, %d) = %d, goka says %d", key, n, got, want)
			}
			if got := part.Partition(&kgo.Record{Key: []byte(key)}, n); got != want {
				t.Fatalf("GokaPartitioner(%q, %d) = %d, goka says %d", key, n, got, want)
			}
		}
	}
}
