package table

import (
	"strconv"
	"strings"
)

// clockKeyPrefix starts the keys reserved for the partitions' arrival clocks. '~' is no valid
// channel character (schemas), so no channel can collide.
const clockKeyPrefix = "~clock-"

// ClockKey is the n-th key reserved for arrival clocks, "~clock-n". Which one holds which
// partition's clock is the processor's choice (the first that goka's hash puts on the partition).
func ClockKey(n int) string { return clockKeyPrefix + strconv.Itoa(n) }

// IsClockKey reports a key that holds a partition's arrival clock, not a channel. Whatever
// reads the table as channels skips these keys.
func IsClockKey(key string) bool { return strings.HasPrefix(key, clockKeyPrefix) }
