package gateway

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway/openapi"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// Limits on what one request may ask for, so no request makes the server do unbounded work.
const (
	// DefaultRange is the range when start_time is unset: the hour before end_time.
	DefaultRange = time.Hour
	// MaxSubscribedChannels bounds the channels of one subscription.
	MaxSubscribedChannels = 1000
)

// invalid builds the InvalidArgument status that names the offending field.
func invalid(field, format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "%s: %s", field, fmt.Sprintf(format, args...))
}

// parseChannelName takes "channels/{channel}" and returns the channel key.
func parseChannelName(field, name string) (string, error) {
	if name == "" {
		return "", invalid(field, "required, e.g. \"channels/demo_stream\"")
	}
	key, ok := strings.CutPrefix(name, "channels/")
	if !ok || strings.Contains(key, "/") {
		return "", invalid(field, "%s is not a channel name; want \"channels/{channel}\"", openapi.ShortQuote(name))
	}
	if msg := schemas.CheckChannel(key); msg != "" {
		return "", invalid(field, "channel %s %s", openapi.ShortQuote(key), msg)
	}
	return key, nil
}

// parseChannelOrAll is parseChannelName that also takes "channels/-" (every channel), returned
// as "".
func parseChannelOrAll(field, name string) (string, error) {
	if name == "channels/-" {
		return "", nil
	}
	return parseChannelName(field, name)
}

// parseSubscribedChannel accepts a resource name or a bare channel key.
func parseSubscribedChannel(field, s string) (string, error) {
	if strings.HasPrefix(s, "channels/") {
		return parseChannelName(field, s)
	}
	if msg := schemas.CheckChannel(s); msg != "" {
		return "", invalid(field, "channel %s %s", openapi.ShortQuote(s), msg)
	}
	return s, nil
}

// timeRange resolves [start, end): end defaults to now, start to end - DefaultRange. A range
// whose start is not before its end is empty, not an error: OpenAPI cannot declare a rule
// between two parameters, and every request the document allows is served. A long range costs
// what the data in it costs; the request timeout bounds it.
func timeRange(start, end *timestamppb.Timestamp, now time.Time) (time.Time, time.Time, error) {
	e := now
	if end != nil {
		if err := end.CheckValid(); err != nil {
			return time.Time{}, time.Time{}, invalid("end_time", "%v", err)
		}
		e = end.AsTime()
	}
	s := e.Add(-DefaultRange)
	if start != nil {
		if err := start.CheckValid(); err != nil {
			return time.Time{}, time.Time{}, invalid("start_time", "%v", err)
		}
		s = start.AsTime()
	}
	if e.Before(s) {
		e = s
	}
	return s, e, nil
}

// pageSize applies AIP-158: 0 is the default, above the maximum is coerced, negative is invalid.
func pageSize(n int32, def, maximum int) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("page_size", "%d is negative", n)
	case n == 0:
		return def, nil
	default:
		return min(int(n), maximum), nil
	}
}

// resolution checks the enum value (unknown numbers are possible on the wire).
func resolution(r pb.Resolution) (pb.Resolution, error) {
	if _, known := pb.Resolution_name[int32(r)]; !known {
		return 0, invalid("resolution", "unknown value %d", r)
	}
	if r == pb.Resolution_RESOLUTION_UNSPECIFIED {
		return pb.Resolution_RESOLUTION_ONE_MINUTE, nil
	}
	return r, nil
}

func momentKinds(field string, kinds []pb.MomentKind) ([]pb.MomentKind, error) {
	for k, kind := range kinds {
		if _, known := pb.MomentKind_name[int32(kind)]; !known || kind == pb.MomentKind_MOMENT_KIND_UNSPECIFIED {
			return nil, invalid(fmt.Sprintf("%s[%d]", field, k), "unknown or unspecified moment kind %d", kind)
		}
	}
	return kinds, nil
}

func liveFilter(f pb.LiveFilter) (pb.LiveFilter, error) {
	if _, known := pb.LiveFilter_name[int32(f)]; !known {
		return 0, invalid("live_filter", "unknown value %d", f)
	}
	return f, nil
}
