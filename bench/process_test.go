package bench

import (
	"os"
	"testing"
)

func TestProcStatsOfThisProcess(t *testing.T) {
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	cpu, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu < 0 {
		t.Fatalf("cpu %s", cpu)
	}
	if rss := procPeakRSS(os.Getpid()); rss < int64(len(buf)) {
		t.Fatalf("peak RSS %d bytes, below the %d just touched", rss, len(buf))
	}
}
