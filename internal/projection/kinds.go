package projection

import (
	"strings"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// MomentKindName is a moment kind as the tables store it (moments.kind, the alert
// subscriptions' kinds): the MomentKind value name without "MOMENT_KIND_", lower-cased, e.g.
// "chat_spike".
func MomentKindName(k pb.MomentKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "MOMENT_KIND_"))
}

// ParseMomentKind parses a stored kind; an unknown one is MOMENT_KIND_UNSPECIFIED.
func ParseMomentKind(name string) pb.MomentKind {
	return pb.MomentKind(pb.MomentKind_value["MOMENT_KIND_"+strings.ToUpper(name)])
}
