package gateway

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/telemetra/telemetra/gateway/openapi"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// sseHandler serves SubscribeChannelEvents as Server-Sent Events, which browsers' EventSource
// reads and reconnects on its own:
//
//	GET /v1/events:sse?channels=demo_stream&channels=gaming&types=CHANNEL_EVENT_TYPE_MOMENT&include_snapshot=true
//
// The query is read as grpc-gateway reads /v1/events:subscribe's (restFront has checked it
// against the OpenAPI document already). Each ChannelEvent is one "data:" line of JSON (the same encoding as the REST API), with the
// payload kind as the event name (window, moment, status, heartbeat). An error ends the stream
// with an "error" event holding the status. EventSource cannot send headers, so the bearer
// token may also come as ?access_token=.
func sseHandler(client pb.TelemetraServiceClient, logger *slog.Logger) http.Handler {
	enc := apiMarshaler{}
	// the query parameter of the SSE route that is not a request field
	accessTokenParam := utilities.NewDoubleArray([][]string{{"access_token"}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		req := &pb.SubscribeChannelEventsRequest{}
		if err := runtime.PopulateQueryParameters(req, q, accessTokenParam); err != nil {
			writeStatus(w, status.Newf(codes.InvalidArgument, "query: %s", openapi.ShortPrefix(err.Error())))
			return
		}
		ctx := r.Context()
		auth := r.Header.Get("Authorization")
		if tok := q.Get("access_token"); auth == "" && tok != "" {
			auth = "Bearer " + tok
		}
		if auth != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth)
		}
		stream, err := client.SubscribeChannelEvents(ctx, req)
		if err != nil {
			writeStatus(w, status.Convert(err))
			return
		}
		flusher, _ := w.(http.Flusher)
		started := false
		for {
			ev, err := stream.Recv()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				st := status.Convert(err)
				if !started {
					writeStatus(w, status.Convert(err))
					return
				}
				b, _ := protojson.Marshal(st.Proto())
				_, _ = fmt.Fprintf(w, "event: error\ndata: %s\n\n", b) // the last event: the stream ends either way
				if flusher != nil {
					flusher.Flush()
				}
				return
			}
			if !started {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Cache-Control", "no-cache")
				w.Header().Set("X-Accel-Buffering", "no")
				started = true
			}
			b, err := enc.Marshal(ev)
			if err != nil {
				logger.Error("encode event", "err", err)
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.GetSequence(), eventName(ev), b); err != nil {
				return // the client is gone
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	})
}

func eventName(ev *pb.ChannelEvent) string {
	switch ev.GetEvent().(type) {
	case *pb.ChannelEvent_Window:
		return "window"
	case *pb.ChannelEvent_Moment:
		return "moment"
	case *pb.ChannelEvent_Status:
		return "status"
	default:
		return "heartbeat"
	}
}
