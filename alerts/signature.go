package alerts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of every delivery attempt (docs/alerts.md, "Headers").
const (
	HeaderID        = "Telemetra-Webhook-Id"        // the idempotency key: the same on every retry
	HeaderTimestamp = "Telemetra-Webhook-Timestamp" // unix seconds of this attempt
	HeaderSignature = "Telemetra-Webhook-Signature" // "v1=<hex>", one entry per valid secret
	HeaderAttempt   = "Telemetra-Webhook-Attempt"   // 1 for the first attempt
	UserAgent       = "Telemetra-Webhooks/1"
)

// signatureVersion prefixes each signature: a new scheme gets a new prefix, and receivers
// ignore the entries they do not know.
const signatureVersion = "v1"

// DefaultTolerance is how far a delivery's timestamp may be from the receiver's clock before
// Verify refuses it: it bounds how long a captured request can be replayed.
const DefaultTolerance = 5 * time.Minute

// Sign is the v1 signature of body sent at timestamp: hex(HMAC-SHA256(secret, "<unix
// seconds>.<body>")). The timestamp is signed with the body, so it cannot be changed to replay
// an old request.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignatureHeader is the Telemetra-Webhook-Signature value: one "v1=" entry per secret, comma
// separated. During a rotation the sender passes the new secret and the previous one, so a
// receiver still holding either verifies the delivery.
func SignatureHeader(secrets []string, timestamp int64, body []byte) string {
	entries := make([]string, len(secrets))
	for i, s := range secrets {
		entries[i] = signatureVersion + "=" + Sign(s, timestamp, body)
	}
	return strings.Join(entries, ", ")
}

// SetHeaders sets the headers of one attempt on h.
func SetHeaders(h http.Header, id string, attempt int, timestamp int64, signature string) {
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	h.Set(HeaderSignature, signature)
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
}

// Errors of Verify.
var (
	ErrNoSignature      = errors.New("no v1 signature")
	ErrBadTimestamp     = errors.New("bad timestamp")
	ErrTimestampTooFar  = errors.New("timestamp outside the tolerance")
	ErrSignatureInvalid = errors.New("no signature matches")
)

// Verify checks a delivery as a receiver does: the timestamp header within tolerance of now
// (either way), and some v1 entry of the signature header equal to Sign(secret, timestamp, body)
// for one of secrets (the receiver's current secret, and during a rotation its previous one).
// Comparisons are constant-time. tolerance <= 0 means DefaultTolerance.
func Verify(secrets []string, timestampHeader, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(timestampHeader), 10, 64)
	if err != nil {
		return fmt.Errorf("%w %q", ErrBadTimestamp, timestampHeader)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off (tolerance %s)", ErrTimestampTooFar, d.Round(time.Second), tolerance)
	}
	var given [][]byte
	for _, entry := range strings.Split(signatureHeader, ",") {
		version, sig, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || version != signatureVersion {
			continue // another scheme's entry: not ours to judge
		}
		if b, err := hex.DecodeString(sig); err == nil {
			given = append(given, b)
		}
	}
	if len(given) == 0 {
		return ErrNoSignature
	}
	for _, secret := range secrets {
		want, _ := hex.DecodeString(Sign(secret, ts, body))
		for _, g := range given {
			if hmac.Equal(g, want) {
				return nil
			}
		}
	}
	return ErrSignatureInvalid
}

// VerifyRequest is Verify on a received request's headers.
func VerifyRequest(secrets []string, h http.Header, body []byte, now time.Time) error {
	return Verify(secrets, h.Get(HeaderTimestamp), h.Get(HeaderSignature), body, now, DefaultTolerance)
}
