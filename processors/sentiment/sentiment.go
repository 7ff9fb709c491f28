// Package sentiment scores chat text with a small lexicon, in the spirit of VADER: words and
// Twitch emotes carry valence, a negation flips the next sentiment word, an intensifier or
// SHOUTING strengthens it, exclamation marks amplify the whole line. Pure functions, no state.
package sentiment

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Class is the coarse sentiment of a message.
type Class int8

// The classes; Classify picks one from the compound score and ClassThreshold.
const (
	Neutral Class = iota
	Positive
	Negative
)

func (c Class) String() string {
	switch c {
	case Positive:
		return "positive"
	case Negative:
		return "negative"
	default:
		return "neutral"
	}
}

// Score is the result for one message.
type Score struct {
	// Compound is the normalized score in [-1, 1].
	Compound float64
	Class    Class
	// Hits counts the lexicon words and emotes that contributed.
	Hits int
}

// ClassThreshold separates neutral from positive/negative compounds (VADER's convention).
const ClassThreshold = 0.05

const (
	negationWindow   = 3    // a negation reaches this many tokens ahead
	negationFactor   = -0.7 // "not good" is less bad than "bad" is bad
	intensifierBoost = 0.5  // "really good" = 1.5 × "good"
	shoutBoost       = 0.3  // "GOOD" (all caps, 3+ letters) in a mixed-case line
	exclaimBoost     = 0.15 // per "!", up to maxExclaims
	maxExclaims      = 3
	normAlpha        = 4.0 // compound = sum / sqrt(sum² + alpha)
)

// Analyze scores a chat message. Emotes are matched case-sensitively as whole tokens (LUL is an
// emote, lul is not); words are matched case-insensitively.
func Analyze(text string) Score {
	var (
		sum         float64
		hits        int
		negateLeft  int // tokens left in which a negation applies
		boost       float64
		exclaims    int
		mixedCase   = hasLower(text)
		start       = -1
		lowerBuffer [32]byte
	)
	for k, r := range text {
		if r == '!' {
			exclaims++
		}
		if isWordRune(r) {
			if start < 0 {
				start = k
			}
			continue
		}
		if start >= 0 {
			token(text[start:k], &sum, &hits, &negateLeft, &boost, mixedCase, lowerBuffer[:0])
			start = -1
		}
	}
	if start >= 0 {
		token(text[start:], &sum, &hits, &negateLeft, &boost, mixedCase, lowerBuffer[:0])
	}
	if sum != 0 && exclaims > 0 {
		sum *= 1 + exclaimBoost*float64(min(exclaims, maxExclaims))
	}
	compound := 0.0
	if sum != 0 {
		compound = sum / math.Sqrt(sum*sum+normAlpha)
	}
	return Score{Compound: compound, Class: Classify(compound), Hits: hits}
}

// Classify maps a compound score to a class.
func Classify(compound float64) Class {
	switch {
	case compound >= ClassThreshold:
		return Positive
	case compound <= -ClassThreshold:
		return Negative
	default:
		return Neutral
	}
}

// token applies one token to the running state.
func token(tok string, sum *float64, hits, negateLeft *int, boost *float64, mixedCase bool, buf []byte) {
	if v, ok := emotes[tok]; ok {
		*sum += v // emotes are not negated: "not PogChamp" is rare and ambiguous
		*hits++
		return
	}
	lower := lowerASCII(tok, buf)
	lower = squashRepeats(lower)
	switch { // m[string(bytes)] does not allocate
	case negations[string(lower)]:
		*negateLeft = negationWindow
		return
	case intensifiers[string(lower)]:
		*boost += intensifierBoost
		return
	}
	v, ok := words[string(lower)]
	if !ok {
		if *negateLeft > 0 {
			*negateLeft--
		}
		return
	}
	v *= 1 + *boost
	if mixedCase && len(tok) >= 3 && isUpper(tok) {
		v *= 1 + shoutBoost
	}
	if *negateLeft > 0 {
		v *= negationFactor
	}
	*sum += v
	*hits++
	*boost = 0
	*negateLeft = 0
}

func isWordRune(r rune) bool {
	return r == '\'' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func hasLower(s string) bool {
	for _, r := range s {
		if unicode.IsLower(r) {
			return true
		}
	}
	return false
}

func isUpper(s string) bool {
	for _, r := range s {
		if unicode.IsLower(r) {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases a token into buf; non-ASCII tokens fall back to strings.ToLower.
func lowerASCII(s string, buf []byte) []byte {
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c >= utf8.RuneSelf {
			return append(buf[:0], strings.ToLower(s)...)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// squashRepeats shortens runs of 3+ equal letters to 2 ("goooood" is "good", "GOOO" is "goo"):
// chat stretches words for emphasis.
func squashRepeats(b []byte) []byte {
	out := b[:0]
	for k := 0; k < len(b); k++ {
		n := len(out)
		if n >= 2 && out[n-1] == b[k] && out[n-2] == b[k] {
			continue
		}
		out = append(out, b[k])
	}
	return out
}
