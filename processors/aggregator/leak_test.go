package aggregator

import (
	"testing"

	"github.com/telemetra/telemetra/internal/testkit"
)

// TestMain fails the tests if they leave goroutines running.
func TestMain(m *testing.M) { testkit.VerifyNoLeaks(m) }
