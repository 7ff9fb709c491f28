package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/telemetra/telemetra/gateway/openapi"
	"github.com/telemetra/telemetra/gateway/store"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// MaxExportRange bounds what one ExportWindows call reads: a range that ends later than this
// after its start is cut there. (Refusing it would refuse requests the OpenAPI document allows:
// it cannot state a rule between two parameters.) 31 days of 1-minute windows are 44,640 rows.
const MaxExportRange = 31 * 24 * time.Hour

// exportPath is ExportWindows' REST route, served by exportHandler.
const exportPath = "/v1/channels/{channel}/metrics:export"

// dispositionHeader is the response metadata (and, over REST, the header) naming the file.
const dispositionHeader = "content-disposition"

// resolutionLabels name the resolutions in file names.
var resolutionLabels = map[pb.Resolution]string{
	pb.Resolution_RESOLUTION_ONE_MINUTE:      "1m",
	pb.Resolution_RESOLUTION_FIVE_MINUTES:    "5m",
	pb.Resolution_RESOLUTION_FIFTEEN_MINUTES: "15m",
	pb.Resolution_RESOLUTION_ONE_HOUR:        "1h",
	pb.Resolution_RESOLUTION_ONE_DAY:         "1d",
}

func (s *service) ExportWindows(req *pb.ExportWindowsRequest, stream pb.TelemetraService_ExportWindowsServer) error {
	ctx := stream.Context()
	channel, err := parseChannelName("parent", req.GetParent())
	if err != nil {
		return err
	}
	session, err := parseSessionID("session", req.GetSession())
	if err != nil {
		return err
	}
	res, err := resolution(req.GetResolution())
	if err != nil {
		return err
	}
	start, end, err := timeRange(req.GetStartTime(), req.GetEndTime(), s.now())
	if err != nil {
		return err
	}
	if err := s.historyOn(); err != nil {
		return err
	}
	if session == "" {
		if err := s.mustExist(ctx, channel); err != nil {
			return err
		}
	} else {
		first, last, found, err := s.store.SessionSpan(ctx, channel, session, res)
		if err != nil {
			return s.storeError(ctx, "export windows", err)
		}
		if !found {
			return status.Errorf(codes.NotFound, "session %s of channel %q not found", session, channel)
		}
		start, end = sessionRange(first, last, req, start, end)
	}
	if limit := start.Add(MaxExportRange); end.After(limit) {
		end = limit
	}
	name := exportFileName(channel, session, start, end, res)
	if err := stream.SendHeader(metadata.Pairs(dispositionHeader, `attachment; filename="`+name+`"`)); err != nil {
		return err
	}
	var sendErr error
	first := true
	out := newCSVChunker(func(data []byte) error {
		chunk := &httpbody.HttpBody{Data: data}
		if first {
			chunk.ContentType, first = csvMediaType, false
		}
		sendErr = stream.Send(chunk)
		return sendErr
	})
	if err := out.header(); err != nil {
		return exportError(err, sendErr)
	}
	q := store.MetricsQuery{Channel: channel, Session: session, Start: start, End: end, Resolution: res,
		IncludeProvisional: req.GetIncludeProvisional(), Limit: math.MaxInt32} // the range bounds the rows
	err = s.store.EachWindowMetric(ctx, q, out.row)
	if err == nil {
		err = out.flush()
	}
	if err == nil || sendErr != nil {
		return exportError(err, sendErr)
	}
	return s.storeError(ctx, "export windows", err)
}

// sessionRange is the range of a session's export: its buckets, narrowed by the request's
// start_time and end_time where given (start and end are those, resolved).
func sessionRange(first, last time.Time, req *pb.ExportWindowsRequest, start, end time.Time) (time.Time, time.Time) {
	from, to := first, last
	if req.GetStartTime() != nil && start.After(from) {
		from = start
	}
	if req.GetEndTime() != nil && end.Before(to) {
		to = end
	}
	if to.Before(from) {
		to = from
	}
	return from, to
}

// exportError is the status of an export that failed while sending: the client's.
func exportError(err, sendErr error) error {
	if sendErr != nil {
		return sendErr
	}
	if err != nil {
		return status.Errorf(codes.Internal, "export windows: %v", err)
	}
	return nil
}

// exportFileName names an export after what it holds, e.g.
// demo_stream_20261201T100000Z_20261201T110000Z_5m.csv, with _session_{id} after the channel.
func exportFileName(channel, session string, start, end time.Time, res pb.Resolution) string {
	const stamp = "20060102T150405Z"
	name := channel
	if session != "" {
		name += "_session_" + session
	}
	return fmt.Sprintf("%s_%s_%s_%s.csv", name, start.UTC().Format(stamp), end.UTC().Format(stamp), resolutionLabels[res])
}

// exportHandler serves ExportWindows over REST as the CSV file itself: grpc-gateway's handler
// of a stream of HttpBody would put a newline after every chunk. Like grpc-gateway it calls
// the gateway's own gRPC server, so auth, validation, metrics and the access log apply; the
// REST front has checked the parameters against the OpenAPI document already.
func exportHandler(client pb.TelemetraServiceClient, logger *slog.Logger) http.Handler {
	noPathParams := utilities.NewDoubleArray(nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &pb.ExportWindowsRequest{Parent: "channels/" + r.PathValue("channel")}
		if err := runtime.PopulateQueryParameters(req, r.URL.Query(), noPathParams); err != nil {
			writeStatus(w, status.Newf(codes.InvalidArgument, "query: %s", openapi.ShortPrefix(err.Error())))
			return
		}
		ctx := r.Context()
		if auth := r.Header.Get("Authorization"); auth != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth)
		}
		stream, err := client.ExportWindows(ctx, req)
		if err != nil {
			writeStatus(w, status.Convert(err))
			return
		}
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			err = status.Error(codes.Internal, "export windows: the server sent no file")
		}
		if err != nil {
			writeStatus(w, status.Convert(err))
			return
		}
		if md, err := stream.Header(); err == nil {
			if v := md.Get(dispositionHeader); len(v) > 0 {
				w.Header().Set("Content-Disposition", v[0])
			}
		}
		w.Header().Set("Content-Type", chunk.GetContentType())
		rc := http.NewResponseController(w)
		for {
			if _, err := w.Write(chunk.GetData()); err != nil {
				return // the client is gone
			}
			_ = rc.Flush()
			chunk, err = stream.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// The status line is sent: only a cut connection tells the client that the file
				// is incomplete (curl: "transfer closed with outstanding read data"). The RPC's
				// own log line has the status.
				logger.Warn("export cut short", "path", r.URL.Path, "err", status.Convert(err).Message())
				panic(http.ErrAbortHandler)
			}
		}
	})
}
