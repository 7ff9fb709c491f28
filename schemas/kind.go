// Package schemas holds the JSON Schemas (draft-07) of Telemetra's four input events, a
// Validator that checks raw Kafka record values against them, and fast typed decoders
// (DecodeChat, DecodeViewer, DecodeTransaction, DecodeStreamMeta, Decode) that accept exactly
// the inputs the Validator accepts.
//
// Both paths apply the same input policy on top of the schemas: the input must be valid UTF-8,
// a single JSON object with nothing but whitespace around it (no BOM), without duplicate keys
// in the event object, nested at most MaxDepth levels, and with every number literal at most
// MaxNumberLen bytes long and with an exponent of at most MaxExponent in absolute value.
// See README.md in this directory for the event fields and the rules.
package schemas

import (
	"embed"
	"fmt"
	"path"
	"strings"
)

//go:embed *.json
var schemaFS embed.FS

// Kind names one of the four input event types.
type Kind string

// The four input event kinds.
const (
	KindChat        Kind = "chat"
	KindViewer      Kind = "viewer"
	KindTransaction Kind = "transaction"
	KindStreamMeta  Kind = "stream_meta"
)

// Kinds returns the four event kinds in a fixed order.
func Kinds() []Kind {
	return []Kind{KindChat, KindViewer, KindTransaction, KindStreamMeta}
}

// ParseKind maps a kind name, schema name, schema file name (with or without a directory) or
// topic name to its Kind. Matching ignores case and surrounding space. Accepted, for example:
// "chat", "chat_message", "chat_message.json", "schemas/chat_message.json",
// "telemetra.events.chat"; "viewer", "viewer_count"; "transaction", "transactions";
// "stream_meta", "stream_metadata".
func ParseKind(s string) (Kind, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if k, ok := KindForTopic(name); ok {
		return k, nil
	}
	name = strings.TrimSuffix(path.Base(strings.ReplaceAll(name, `\`, "/")), ".json")
	switch name {
	case "chat", "chat_message", "chat_messages":
		return KindChat, nil
	case "viewer", "viewers", "viewer_count", "viewer_counts":
		return KindViewer, nil
	case "transaction", "transactions":
		return KindTransaction, nil
	case "stream_meta", "stream_metadata", "streammeta", "meta":
		return KindStreamMeta, nil
	}
	return "", fmt.Errorf("unknown event kind %q (want chat, viewer, transaction or stream_meta)", s)
}

// String returns the kind name.
func (k Kind) String() string { return string(k) }

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindChat, KindViewer, KindTransaction, KindStreamMeta:
		return true
	}
	return false
}

// Topic returns the Kafka topic carrying events of kind k, or "" for an unknown kind.
func (k Kind) Topic() string {
	switch k {
	case KindChat:
		return "telemetra.events.chat"
	case KindViewer:
		return "telemetra.events.viewer"
	case KindTransaction:
		return "telemetra.events.transactions"
	case KindStreamMeta:
		return "telemetra.events.stream_meta"
	}
	return ""
}

// SchemaFile returns the file name of the kind's schema (e.g. "chat_message.json"), or "".
func (k Kind) SchemaFile() string {
	switch k {
	case KindChat:
		return "chat_message.json"
	case KindViewer:
		return "viewer_count.json"
	case KindTransaction:
		return "transaction.json"
	case KindStreamMeta:
		return "stream_meta.json"
	}
	return ""
}

// KindForTopic returns the kind carried by a Kafka topic.
func KindForTopic(topic string) (Kind, bool) {
	switch topic {
	case "telemetra.events.chat":
		return KindChat, true
	case "telemetra.events.viewer":
		return KindViewer, true
	case "telemetra.events.transactions":
		return KindTransaction, true
	case "telemetra.events.stream_meta":
		return KindStreamMeta, true
	}
	return "", false
}

// Schema returns a copy of the raw JSON Schema document of kind k, or nil for an unknown kind.
func Schema(k Kind) []byte {
	name := k.SchemaFile()
	if name == "" {
		return nil
	}
	b, err := schemaFS.ReadFile(name)
	if err != nil {
		return nil
	}
	return b // ReadFile of an embed.FS returns a fresh copy
}
