package bench

import (
	"strings"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkThroughput-2   	       1	3226928492 ns/op	         1.127 ratio	    342427 telemetra-events/s	    303790 trivial-events/s
BenchmarkRecovery/channels=100-2         	       1	 612345678 ns/op	         0.61 recovery-s	  12 MB-state	 1024 B/op	 3 allocs/op
PASS
ok  	github.com/telemetra/telemetra/processors/aggregator	12.3s
`
	got := ParseGoBench(out)
	want := []GoBenchResult{
		{"BenchmarkThroughput", "ratio", 1.127},
		{"BenchmarkThroughput", "telemetra-events/s", 342427},
		{"BenchmarkThroughput", "trivial-events/s", 303790},
		{"BenchmarkRecovery/channels=100", "recovery-s", 0.61},
		{"BenchmarkRecovery/channels=100", "MB-state", 12},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestBarChartDrawsEveryBar(t *testing.T) {
	svg := barChart("t <1>", "ms", []string{"p50", "p99"}, []barGroup{{"a", []float64{1, 2}}, {"b", []float64{3, 4}}})
	if n := strings.Count(svg, "<rect"); n != 1+2+4 { // background, legend, bars
		t.Fatalf("%d rects:\n%s", n, svg)
	}
	if !strings.Contains(svg, "t &lt;1&gt;") || !strings.Contains(svg, "4 ms") {
		t.Fatalf("title or values missing:\n%s", svg)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
