package alerts

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestSignIsTheDocumentedHMAC(t *testing.T) {
	// the example of docs/alerts.md, computed there with
	// printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret"
	got := Sign("whsec_example", 1760610600, []byte(`{"id":"x"}`))
	if want := "269f787b20fdd8ca9ab7ee40e8108bfe1b3f729b9fef1af75b0118acf997893f"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1760610600, 0)
	body := []byte(`{"id":"channels/demo/moments/raid-1760610600"}`)
	ts := now.Unix()
	stamp := strconv.FormatInt(ts, 10)
	current := SignatureHeader([]string{"new"}, ts, body)
	rotating := SignatureHeader([]string{"new", "old"}, ts, body)
	for _, tc := range []struct {
		name      string
		secrets   []string
		timestamp string
		signature string
		body      []byte
		now       time.Time
		want      error
	}{
		{"current secret", []string{"new"}, stamp, current, body, now, nil},
		{"a receiver still on the previous secret during a rotation", []string{"old"}, stamp, rotating, body, now, nil},
		{"a receiver already on the new secret during a rotation", []string{"new"}, stamp, rotating, body, now, nil},
		{"a receiver holding both while it switches", []string{"old", "new"}, stamp, current, body, now, nil},
		{"previous secret after the rotation ended", []string{"old"}, stamp, current, body, now, ErrSignatureInvalid},
		{"wrong secret", []string{"guess"}, stamp, current, body, now, ErrSignatureInvalid},
		{"body changed", []string{"new"}, stamp, current, []byte(`{"id":"other"}`), now, ErrSignatureInvalid},
		{"timestamp changed: it is signed too", []string{"new"}, strconv.FormatInt(ts+1, 10), current, body, now, ErrSignatureInvalid},
		{"within the tolerance", []string{"new"}, stamp, current, body, now.Add(4 * time.Minute), nil},
		{"a replay after the tolerance", []string{"new"}, stamp, current, body, now.Add(6 * time.Minute), ErrTimestampTooFar},
		{"from the future beyond the tolerance", []string{"new"}, stamp, current, body, now.Add(-6 * time.Minute), ErrTimestampTooFar},
		{"no timestamp", []string{"new"}, "", current, body, now, ErrBadTimestamp},
		{"no signature", []string{"new"}, stamp, "", body, now, ErrNoSignature},
		{"only an unknown scheme", []string{"new"}, stamp, "v0=abcd", body, now, ErrNoSignature},
		{"an unknown scheme beside ours is ignored", []string{"new"}, stamp, "v2=abcd, " + current, body, now, nil},
		{"not hex", []string{"new"}, stamp, "v1=zz", body, now, ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secrets, tc.timestamp, tc.signature, tc.body, tc.now, 0)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSetHeaders(t *testing.T) {
	h := http.Header{}
	SetHeaders(h, "channels/demo/moments/raid-1", 3, 1760610600, "v1=ab")
	for name, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "Telemetra-Webhooks/1",
		"Telemetra-Webhook-Id": "channels/demo/moments/raid-1", "Telemetra-Webhook-Attempt": "3",
		"Telemetra-Webhook-Timestamp": "1760610600", "Telemetra-Webhook-Signature": "v1=ab",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
