package gateway

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// sseHandler serves SubscribeChannelEvents as Server-Sent Events, which browsers' EventSource
// reads and reconnects on its own:
//
//	GET /v1/events:sse?channels=demo_stream&channels=gaming&types=CHANNEL_EVENT_TYPE_MOMENT&include_snapshot=true
//
// Each ChannelEvent is one "data:" line of JSON (the same encoding as the REST API), with the
// payload kind as the event name (window, moment, status, heartbeat). An error ends the stream
// with an "error" event holding the status. EventSource cannot send headers, so the bearer
// token may also come as ?access_token=.
func sseHandler(client pb.TelemetraServiceClient, logger *slog.Logger) http.Handler {
	enc := protojson.MarshalOptions{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		req := &pb.SubscribeChannelEventsRequest{Channels: q["channels"], IncludeSnapshot: q.Get("include_snapshot") == "true"}
		for _, t := range q["types"] {
			v, ok := pb.ChannelEventType_value[t]
			if !ok {
				http.Error(w, fmt.Sprintf("types: unknown event type %q", t), http.StatusBadRequest)
				return
			}
			req.Types = append(req.Types, pb.ChannelEventType(v))
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
			writeStatusError(w, err)
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
					writeStatusError(w, err)
					return
				}
				b, _ := protojson.Marshal(st.Proto())
				fmt.Fprintf(w, "event: error\ndata: %s\n\n", b)
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
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.GetSequence(), eventName(ev), b)
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

// writeStatusError answers an error before the stream started, as grpc-gateway would.
func writeStatusError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	b, _ := protojson.Marshal(st.Proto())
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
