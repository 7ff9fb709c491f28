// Package testkit is what the tests of many packages share: waiting for a condition instead of
// sleeping (WaitFor), and the goroutine-leak check of a test binary (VerifyNoLeaks).
package testkit

import (
	"slices"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs m's tests, then fails the test binary if any goroutine is still running
// (go.uber.org/goleak, which retries for a while so goroutines on their way out can finish).
// Call it from TestMain with the *testing.M, or with pgtest.M(m) in a package that also uses
// PostgreSQL; extra are more goroutines to ignore, such as IgnoreGokaViews.
func VerifyNoLeaks(m goleak.TestingM, extra ...goleak.Option) {
	goleak.VerifyTestMain(m, slices.Concat(ignored, extra)...)
}

// ignored are the goroutines of libraries that run for the life of the process by design.
var ignored = []goleak.Option{
	// Sarama's metrics: go-metrics starts one ticker for all meters, on the first, for good.
	goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
}

// IgnoreGokaViews ignores what a goka View leaves behind when its Run returns: goka (v1.1.17,
// View.close) closes the view's partitions but never its Sarama consumer and topic manager,
// whose clients keep a metadata updater and a receiver per broker connection. A goroutine of
// Sarama's cannot be told apart by who started it, so only packages that run views use this.
var IgnoreGokaViews = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/IBM/sarama.(*client).backgroundMetadataUpdater"),
	goleak.IgnoreTopFunction("github.com/IBM/sarama.(*Broker).responseReceiver"),
}
