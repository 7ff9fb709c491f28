package projection

import (
	"testing"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestMomentKindNamesRoundTrip(t *testing.T) {
	for value, name := range pb.MomentKind_name {
		kind := pb.MomentKind(value)
		if kind == pb.MomentKind_MOMENT_KIND_UNSPECIFIED {
			continue
		}
		stored := MomentKindName(kind)
		if got := ParseMomentKind(stored); got != kind {
			t.Errorf("%s stored as %q reads back as %v", name, stored, got)
		}
	}
	if MomentKindName(pb.MomentKind_MOMENT_KIND_CHAT_SPIKE) != "chat_spike" {
		t.Errorf("chat spike stored as %q", MomentKindName(pb.MomentKind_MOMENT_KIND_CHAT_SPIKE))
	}
	if got := ParseMomentKind("something_new"); got != pb.MomentKind_MOMENT_KIND_UNSPECIFIED {
		t.Errorf("unknown kind read as %v", got)
	}
}
