package schemas

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The checks in this file mirror, keyword by keyword, what the JSON Schemas say about a value.
// They work on decoded string contents and on number literals already checked by
// decoder.number (so a literal is well-formed, at most MaxNumberLen bytes long, and its
// exponent is at most MaxExponent in absolute value).

// decimal splits a number literal into its sign, its integer and fraction digits and an
// exponent e such that the literal's value is exactly ±D × 10^e, where D is the integer written
// by the digits of intPart followed by those of fracPart.
func decimal(lit []byte) (neg bool, intPart, fracPart []byte, e int) {
	i := 0
	if lit[0] == '-' {
		neg = true
		i = 1
	}
	j := i
	for j < len(lit) && lit[j] >= '0' && lit[j] <= '9' {
		j++
	}
	intPart = lit[i:j]
	if j < len(lit) && lit[j] == '.' {
		k := j + 1
		for k < len(lit) && lit[k] >= '0' && lit[k] <= '9' {
			k++
		}
		fracPart = lit[j+1 : k]
		j = k
	}
	if j < len(lit) { // exponent
		j++
		expNeg := false
		if lit[j] == '+' || lit[j] == '-' {
			expNeg = lit[j] == '-'
			j++
		}
		for ; j < len(lit); j++ {
			e = e*10 + int(lit[j]-'0') // bounded by the number policy
		}
		if expNeg {
			e = -e
		}
	}
	e -= len(fracPart)
	return neg, intPart, fracPart, e
}

// scaled returns the value of lit times 10^shift when that is an integer, with its sign.
// isInt is false when lit × 10^shift has a fractional part; big is true when its magnitude is
// 10^19 or more (v is then meaningless). Zero (including -0) is never negative.
func scaled(lit []byte, shift int) (v uint64, neg, isInt, big bool) {
	neg, intPart, fracPart, e := decimal(lit)
	e += shift
	n := len(intPart) + len(fracPart)
	digit := func(k int) byte {
		if k < len(intPart) {
			return intPart[k]
		}
		return fracPart[k-len(intPart)]
	}
	first := 0
	for first < n && digit(first) == '0' {
		first++
	}
	if first == n {
		return 0, false, true, false
	}
	last := n - 1
	for digit(last) == '0' {
		last--
		e++
	}
	if e < 0 {
		return 0, neg, false, false
	}
	if last-first+1+e > 19 {
		return 0, neg, true, true
	}
	for k := first; k <= last; k++ {
		v = v*10 + uint64(digit(k)-'0')
	}
	for ; e > 0; e-- {
		v *= 10
	}
	return v, neg, true, false
}

// integer checks a number literal against {"type": "integer", "minimum": lo, "maximum": hi}
// (lo >= 0) and returns its value.
func integer(lit []byte, lo, hi int64) (int64, string) {
	v, neg, isInt, big := scaled(lit, 0)
	switch {
	case !isInt:
		return 0, "must be integer, got number"
	case neg || v < uint64(lo):
		return 0, "must be >= " + strconv.FormatInt(lo, 10)
	case big || v > uint64(hi):
		return 0, "must be <= " + strconv.FormatInt(hi, 10)
	}
	return int64(v), ""
}

// centDigits is the number of decimals of an amount: cents counts hundredths.
const centDigits = 2

// cents checks a number literal against {"type": "number", "minimum": 0, "maximum":
// maxCents/100, "multipleOf": 0.01} and returns its value in cents.
func cents(lit []byte, maxCents int64) (int64, string) {
	v, neg, isInt, big := scaled(lit, centDigits)
	switch {
	case neg:
		return 0, "must be >= 0"
	case !isInt:
		return 0, "must be a multiple of 0.01"
	case big || v > uint64(maxCents):
		return 0, "must be <= " + strconv.FormatInt(maxCents/100, 10)
	}
	return int64(v), ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// Patterns, as in the schemas.

const (
	channelPattern  = "^[a-z0-9][a-z0-9_]{2,24}$"
	usernamePattern = "^[A-Za-z0-9_]{1,25}$"
	txnIDPattern    = "^txn_[A-Za-z0-9]{8,64}$"
	colorPattern    = "^#[0-9A-Fa-f]{6}$"
	currencyPattern = "^[A-Z]{3}$"
	// checkUUID and timestamp implement these two by hand, together with the formats uuid and
	// date-time; their reasons (and the Validator's) name the format, not the pattern.
	uuidPattern      = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
	timestampPattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$`
)

// checkChannel: {"pattern": "^[a-z0-9][a-z0-9_]{2,24}$"}.
func checkChannel(b []byte) string {
	ok := len(b) >= 3 && len(b) <= 25 && (isDigit(b[0]) || (b[0] >= 'a' && b[0] <= 'z'))
	for i := 1; ok && i < len(b); i++ {
		c := b[i]
		ok = isDigit(c) || (c >= 'a' && c <= 'z') || c == '_'
	}
	if !ok {
		return "must match " + channelPattern
	}
	return ""
}

// checkUsername: {"pattern": "^[A-Za-z0-9_]{1,25}$"}.
func checkUsername(b []byte) string {
	ok := len(b) >= 1 && len(b) <= 25
	for i := 0; ok && i < len(b); i++ {
		ok = isAlnum(b[i]) || b[i] == '_'
	}
	if !ok {
		return "must match " + usernamePattern
	}
	return ""
}

// checkTxnID: {"pattern": "^txn_[A-Za-z0-9]{8,64}$"}.
func checkTxnID(b []byte) string {
	ok := len(b) >= 12 && len(b) <= 68 && string(b[:4]) == "txn_"
	for i := 4; ok && i < len(b); i++ {
		ok = isAlnum(b[i])
	}
	if !ok {
		return "must match " + txnIDPattern
	}
	return ""
}

// checkColor: {"pattern": "^#[0-9A-Fa-f]{6}$"}.
func checkColor(b []byte) string {
	ok := len(b) == 7 && b[0] == '#'
	for i := 1; ok && i < len(b); i++ {
		ok = isHex(b[i])
	}
	if !ok {
		return "must match " + colorPattern
	}
	return ""
}

// checkCurrency: {"pattern": "^[A-Z]{3}$"}.
func checkCurrency(b []byte) string {
	if len(b) != 3 || b[0] < 'A' || b[0] > 'Z' || b[1] < 'A' || b[1] > 'Z' || b[2] < 'A' || b[2] > 'Z' {
		return "must match " + currencyPattern
	}
	return ""
}

// checkUUID: {"format": "uuid", "pattern": uuidPattern}.
func checkUUID(b []byte) string {
	ok := len(b) == 36
	for i := 0; ok && i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			ok = b[i] == '-'
		default:
			ok = isHex(b[i])
		}
	}
	if !ok {
		return "must be a uuid"
	}
	return ""
}

// checkLen: {"minLength": lo, "maxLength": hi} with lo 0 or 1, counted in code points.
func checkLen(b []byte, lo, hi int) string {
	if len(b) >= lo && len(b) <= hi && lo <= 1 {
		return "" // code points <= bytes <= hi, and >= 1 iff bytes >= 1
	}
	n := utf8.RuneCount(b)
	if n < lo {
		return minLengthReason(lo)
	}
	if n > hi {
		return "must be at most " + strconv.Itoa(hi) + " characters"
	}
	return ""
}

func minLengthReason(minLength int) string {
	if minLength == 1 {
		return "must not be empty"
	}
	return "must be at least " + strconv.Itoa(minLength) + " characters"
}

// parseTimestamp checks b against the timestamp definition of the schemas ({"format":
// "date-time"} as asserted by santhosh-tekuri/jsonschema, plus timestampPattern) and returns
// the instant in UTC. A leap second (:60, accepted by date-time only at 23:59 UTC) is folded
// into the next second, like time.Date does.
func parseTimestamp(b []byte) (time.Time, string) {
	t, ok := timestamp(b)
	if !ok {
		return time.Time{}, reasonTimestamp
	}
	return t, ""
}

func timestamp(b []byte) (time.Time, bool) {
	// Shape (the pattern).
	if len(b) < 20 {
		return time.Time{}, false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(b[i]) {
			return time.Time{}, false
		}
	}
	if b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		j := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		nd := i - j
		if nd < 1 || nd > 9 {
			return time.Time{}, false
		}
		for k := j; k < i; k++ {
			nsec = nsec*10 + int(b[k]-'0')
		}
		for k := nd; k < 9; k++ {
			nsec *= 10
		}
	}
	rest := b[i:]
	offSign, offH, offM := 0, 0, 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && isDigit(rest[1]) && isDigit(rest[2]) &&
		rest[3] == ':' && isDigit(rest[4]) && isDigit(rest[5]):
		offSign = 1
		if rest[0] == '-' {
			offSign = -1
		}
		offH = num2(rest[1:])
		offM = num2(rest[4:])
	default:
		return time.Time{}, false
	}

	// Values (the format).
	year := num2(b)*100 + num2(b[2:])
	month, day := num2(b[5:]), num2(b[8:])
	h, m, s := num2(b[11:]), num2(b[14:]), num2(b[17:])
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return time.Time{}, false
	}
	if h > 23 || m > 59 || s > 60 || offH > 23 || offM > 59 {
		return time.Time{}, false
	}
	if s == 60 {
		// A leap second must fall on 23:59 UTC (the date is not checked).
		hm := h*60 + m - offSign*(offH*60+offM)
		if hm < 0 {
			hm += 24 * 60
		}
		if hm != 23*60+59 {
			return time.Time{}, false
		}
	}
	t := time.Date(year, time.Month(month), day, h, m, s, nsec, time.UTC)
	if offSign != 0 {
		t = t.Add(-time.Duration(offSign) * time.Duration(offH*60+offM) * time.Minute)
	}
	return t, true
}

func num2(b []byte) int { return int(b[0]-'0')*10 + int(b[1]-'0') }

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// ChannelPattern is the rule of a channel key, in the events and in the API.
const ChannelPattern = channelPattern

// CheckChannel validates a channel key as the event schemas do; the empty string means valid.
func CheckChannel(channel string) string { return checkChannel([]byte(channel)) }
