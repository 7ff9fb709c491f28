package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"google.golang.org/protobuf/proto"
)

// A page token (AIP-158) is opaque to clients: base64 of the cursor of the last item served and
// a fingerprint of the request it belongs to, so a token used with other filters is refused
// instead of silently skipping or repeating results.
type pageToken[C any] struct {
	Fingerprint string `json:"f"`
	Cursor      C      `json:"c"`
}

// fingerprint hashes a request without its page_token and page_size fields.
func fingerprint(req proto.Message, clearPaging func(proto.Message)) string {
	c := proto.Clone(req)
	clearPaging(c)
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func encodePageToken[C any](fp string, cursor C) string {
	b, _ := json.Marshal(pageToken[C]{Fingerprint: fp, Cursor: cursor})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePageToken returns the cursor of token, or nil for an empty token.
func decodePageToken[C any](token, fp string) (*C, error) {
	if token == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, invalid("page_token", "not a token this server issued")
	}
	var t pageToken[C]
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, invalid("page_token", "not a token this server issued")
	}
	if t.Fingerprint != fp {
		return nil, invalid("page_token", "issued for a request with other parameters; repeat them unchanged or start without a token")
	}
	return &t.Cursor, nil
}
