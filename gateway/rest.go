package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/telemetra/telemetra/gateway/openapi"
)

// restFront checks every request to a route of the OpenAPI document against the document
// before grpc-gateway (or the SSE handler) sees it: the method (405 with Allow otherwise), the
// path and query parameters (400 naming the parameter and the rule), and the body: none where
// the operation takes none, else a JSON object that meets the body's rules (openapi.Body).
// A request the document does not route passes through (grpc-gateway answers 404).
type restFront struct {
	spec *openapi.Spec
	next http.Handler
}

func (f *restFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segments, err := pathSegments(r.URL)
	if err != nil {
		writeStatus(w, status.New(codes.InvalidArgument, err.Error()))
		return
	}
	ops, values, ok := f.spec.Route(segments)
	if !ok {
		f.next.ServeHTTP(w, r)
		return
	}
	op, allow := ops[r.Method], allowed(ops)
	if r.Method == http.MethodHead && slices.Contains(allow, http.MethodHead) {
		op = ops[http.MethodGet]
	}
	if op == nil {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeStatusCode(w, http.StatusMethodNotAllowed, status.Newf(codes.Unimplemented,
			"method %s is not allowed on %s; allowed: %s", openapi.ShortPrefix(r.Method), openapi.ShortPrefix(r.URL.Path), strings.Join(allow, ", ")))
		return
	}
	var body []byte
	if op.Body == nil && r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		writeStatus(w, status.Newf(codes.InvalidArgument, "request body: %s %s takes none", op.Method, op.Path))
		return
	}
	if op.Body != nil {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			writeStatus(w, status.Newf(codes.InvalidArgument, "request body: unreadable or over %d bytes", MaxBodyBytes))
			return
		}
		var violation *openapi.Violation
		if body, violation = op.CheckBody(raw); violation != nil {
			writeStatus(w, status.New(codes.InvalidArgument, "body: "+violation.Error()))
			return
		}
	}
	if name, ok := unforwardableHeader(r.Header); !ok {
		writeStatus(w, status.Newf(codes.InvalidArgument, "header %s: not printable ASCII", openapi.ShortPrefix(name)))
		return
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeStatus(w, status.Newf(codes.InvalidArgument, "query: %s", openapi.ShortPrefix(err.Error())))
		return
	}
	query, violation := op.Check(values, query, MaxFieldBytes)
	if violation != nil {
		writeStatus(w, status.New(codes.InvalidArgument, violation.Error()))
		return
	}
	if streaming(op) {
		// the server's write timeout is for answers, not for streams that run for hours
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = query.Encode()
	r2.Method = op.Method // HEAD is served as GET; net/http drops the body of a HEAD answer
	if op.Body != nil {
		r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r2.Header.Del("Content-Length")
	}
	f.next.ServeHTTP(w, r2)
}

// MaxBodyBytes bounds a request body: the largest valid one (an alert subscription) is a few
// kilobytes.
const MaxBodyBytes = 64 << 10

// unforwardableHeader finds a header that grpc-gateway would pass on as gRPC metadata (the
// authorization, Grpc-Metadata-*) and that gRPC refuses: not printable ASCII. gRPC would fail
// the call as INTERNAL; it is the client's error.
func unforwardableHeader(h http.Header) (string, bool) {
	for name, vals := range h {
		if name != "Authorization" && !strings.HasPrefix(name, "Grpc-Metadata-") {
			continue
		}
		for _, v := range vals {
			for i := range len(v) {
				if v[i] < 0x20 || v[i] > 0x7e {
					return name, false
				}
			}
		}
	}
	return "", true
}

// allowed are the methods a path serves: its operations', and HEAD beside a GET that is not
// a stream (a HEAD of a stream would hang without ever sending a byte).
func allowed(ops map[string]*openapi.Operation) []string {
	methods := openapi.Allowed(ops)
	if get := ops[http.MethodGet]; get != nil && !streaming(get) && ops[http.MethodHead] == nil {
		methods = append(methods, http.MethodHead)
		slices.Sort(methods)
	}
	return methods
}

func streaming(op *openapi.Operation) bool {
	return slices.Contains(op.Produces, ndjsonMediaType) || slices.Contains(op.Produces, sseMediaType)
}

// pathSegments splits the escaped path and unescapes each segment, so "%2F" stays inside one.
func pathSegments(u *url.URL) ([]string, error) {
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	for k, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("path: %s", openapi.ShortPrefix(err.Error()))
		}
		parts[k] = s
	}
	return parts, nil
}

// writeStatus answers with st as grpc-gateway would: its HTTP status and the Status as JSON.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	writeStatusCode(w, runtime.HTTPStatusFromCode(st.Code()), st)
}

func writeStatusCode(w http.ResponseWriter, httpStatus int, st *status.Status) {
	b, _ := protojson.Marshal(st.Proto())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(append(b, '\n'))
}

// accessLog logs every HTTP request when it has been answered, the rejected ones included.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.Info("http", "method", openapi.ShortPrefix(r.Method),
			"path", logPrefix(r.URL.EscapedPath()),
			"status", rec.status, "bytes", rec.bytes, "duration", time.Since(started).Round(time.Microsecond), "peer", r.RemoteAddr)
	})
}

// logPrefix keeps an access log line short when a path is not.
func logPrefix(s string) string {
	const most = 256
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}

// recorder notes the status and size of an answer; Unwrap keeps http.ResponseController (write
// deadlines, flushes) working through it.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// apiMarshaler is the JSON of every REST answer, whichever media type the client accepts: unset
// fields are left out (the OpenAPI schema has no nulls), and a stream is newline-delimited JSON.
type apiMarshaler struct{ runtime.JSONPb }

// StreamContentType is the media type of streamed answers (runtime.StreamContentType).
func (apiMarshaler) StreamContentType(any) string { return ndjsonMediaType }
