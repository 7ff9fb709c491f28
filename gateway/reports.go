package gateway

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/telemetra/telemetra/gateway/openapi"
	"github.com/telemetra/telemetra/gateway/store"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// SessionIDPattern is the rule of a session id ({session} of a session's name, ExportWindows'
// session): the decimal unix seconds of its start, as the processor writes them; empty where
// the field is optional. A well-formed id of no session is NOT_FOUND, not invalid.
const SessionIDPattern = `^[0-9]{0,19}$`

var sessionIDRule = regexp.MustCompile(SessionIDPattern)

// reportMomentsMax bounds a report's moments timeline; a two-hour stream has a handful.
const reportMomentsMax = 1000

// parseSessionName takes "channels/{channel}/sessions/{session}" and returns both keys.
func parseSessionName(field, name string) (channel, session string, err error) {
	const want = `want "channels/{channel}/sessions/{session}"`
	if name == "" {
		return "", "", invalid(field, "required, e.g. \"channels/demo_stream/sessions/1760610600\"")
	}
	parent, session, ok := strings.Cut(strings.TrimPrefix(name, "channels/"), "/sessions/")
	if !ok || !strings.HasPrefix(name, "channels/") {
		return "", "", invalid(field, "%s is not a session name; %s", openapi.ShortQuote(name), want)
	}
	if channel, err = parseChannelName(field, "channels/"+parent); err != nil {
		return "", "", err
	}
	if session, err = parseSessionID(field, session); err != nil {
		return "", "", err
	}
	if session == "" {
		return "", "", invalid(field, "%s has no session id; %s", openapi.ShortQuote(name), want)
	}
	return channel, session, nil
}

// parseSessionID checks a session id against SessionIDPattern.
func parseSessionID(field, id string) (string, error) {
	if !sessionIDRule.MatchString(id) {
		return "", invalid(field, "session id %s must match %s", openapi.ShortQuote(id), SessionIDPattern)
	}
	return id, nil
}

func (s *service) GetStreamReport(ctx context.Context, req *pb.GetStreamReportRequest) (*pb.StreamReport, error) {
	channel, session, err := parseSessionName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(req.GetTopEmotesLimit(), topEmotesDefault, topEmotesMax)
	if err != nil {
		return nil, invalid("top_emotes_limit", "%d is negative", req.GetTopEmotesLimit())
	}
	if err := s.historyOn(); err != nil {
		return nil, err
	}
	report, err := s.store.StreamReport(ctx, store.ReportQuery{Channel: channel, Session: session,
		TopEmotes: limit, MaxMoments: reportMomentsMax, Now: s.now()})
	if errors.Is(err, store.ErrSessionNotFound) {
		return nil, status.Errorf(codes.NotFound, "session %s of channel %q not found", session, channel)
	}
	if err != nil {
		return nil, s.storeError(ctx, "get stream report", err)
	}
	return report, nil
}
