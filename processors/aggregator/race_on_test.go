//go:build race

package aggregator

// raceDetector says the tests run with the race detector.
const raceDetector = true
