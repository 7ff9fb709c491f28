package hub

import (
	"fmt"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Kind classifies an event for filtering and coalescing. The zero Kind is
// "unknown"; Publish derives it from the payload (see KindOf).
type Kind int

// The kinds of a ChannelEvent, one per pb.ChannelEventType.
const (
	KindProvisional Kind = iota + 1 // provisional window update (window.final = false)
	KindFinal                       // final window result (window.final = true)
	KindMoment                      // detected moment
	KindStatus                      // status change
)

// String returns the kind's name, e.g. "provisional".
func (k Kind) String() string {
	switch k {
	case KindProvisional:
		return "provisional"
	case KindFinal:
		return "final"
	case KindMoment:
		return "moment"
	case KindStatus:
		return "status"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// EventType returns the API enum value of k; CHANNEL_EVENT_TYPE_UNSPECIFIED
// for an unknown kind.
func (k Kind) EventType() pb.ChannelEventType {
	switch k {
	case KindProvisional:
		return pb.ChannelEventType_CHANNEL_EVENT_TYPE_PROVISIONAL_WINDOW
	case KindFinal:
		return pb.ChannelEventType_CHANNEL_EVENT_TYPE_FINAL_WINDOW
	case KindMoment:
		return pb.ChannelEventType_CHANNEL_EVENT_TYPE_MOMENT
	case KindStatus:
		return pb.ChannelEventType_CHANNEL_EVENT_TYPE_STATUS
	default:
		return pb.ChannelEventType_CHANNEL_EVENT_TYPE_UNSPECIFIED
	}
}

// KindFromEventType maps a SubscribeChannelEventsRequest type to a Kind. It
// rejects UNSPECIFIED and unknown values so that a request's types can be
// validated while building a Filter.
func KindFromEventType(t pb.ChannelEventType) (Kind, error) {
	switch t {
	case pb.ChannelEventType_CHANNEL_EVENT_TYPE_PROVISIONAL_WINDOW:
		return KindProvisional, nil
	case pb.ChannelEventType_CHANNEL_EVENT_TYPE_FINAL_WINDOW:
		return KindFinal, nil
	case pb.ChannelEventType_CHANNEL_EVENT_TYPE_MOMENT:
		return KindMoment, nil
	case pb.ChannelEventType_CHANNEL_EVENT_TYPE_STATUS:
		return KindStatus, nil
	default:
		return 0, fmt.Errorf("hub: channel event type %v has no event kind", t)
	}
}

// KindOf classifies a payload by its oneof: a window by its final flag, a
// moment or a status change. Heartbeats and empty payloads have no kind (0).
func KindOf(ev *pb.ChannelEvent) Kind {
	switch e := ev.GetEvent().(type) {
	case *pb.ChannelEvent_Window:
		if e.Window.GetFinal() {
			return KindFinal
		}
		return KindProvisional
	case *pb.ChannelEvent_Moment:
		return KindMoment
	case *pb.ChannelEvent_Status:
		return KindStatus
	default:
		return 0
	}
}
