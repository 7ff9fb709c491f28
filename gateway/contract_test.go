package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/gateway/openapi"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// fakeLive serves one live channel whose stream has not ended (unset fields in the JSON).
type fakeLive struct{}

func (fakeLive) Get(channel string) (*pb.ChannelState, error) {
	if channel != "demo_stream" {
		return nil, nil
	}
	return &pb.ChannelState{Channel: "demo_stream", Status: &pb.StreamStatus{Live: true, StartedAt: timestamppb.New(time.Now().Add(-time.Hour))}}, nil
}

func (fakeLive) Channels() ([]string, error) { return []string{"demo_stream"}, nil }

func (fakeLive) Recovered() bool { return true }

// syncBuffer is a log sink tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rawCodec sends requests as the bytes given: how a client sends what proto.Marshal refuses.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = b
	return nil
}
func (rawCodec) Name() string { return "proto" }

// wireString is a message with one string field as bytes, whatever they are.
func wireString(field protowire.Number, s string) []byte {
	b := protowire.AppendTag(nil, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

type contractServer struct {
	srv    *gateway.Server
	conn   *grpc.ClientConn
	logs   *syncBuffer
	doc    *openapi.Spec
	docRaw []byte
}

func startContractServer(t *testing.T, limits gateway.Limits) *contractServer {
	// streams end after a second, so that a valid subscription is answered as a whole
	return startContractServerWith(t, gateway.Config{Limits: limits, SubscriptionMaxAge: time.Second})
}

func startContractServerWith(t *testing.T, cfg gateway.Config) *contractServer {
	logs := &syncBuffer{}
	cfg.Live, cfg.Logger = fakeLive{}, slog.New(slog.NewTextHandler(logs, nil))
	srv := startGatewayWithoutHistory(t, cfg)
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	doc, err := openapi.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &contractServer{srv: srv, conn: conn, logs: logs, doc: doc, docRaw: raw}
}

// rest answers a request as (HTTP status, gRPC code of the body, message).
func (c *contractServer) rest(t *testing.T, method, target string, body io.Reader) (int, codes.Code, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+c.srv.HTTPAddr()+target, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st struct {
		Code    codes.Code `json:"code"`
		Message string     `json:"message"`
	}
	_ = json.Unmarshal(raw, &st)
	return resp.StatusCode, st.Code, st.Message, resp.Header
}

func (c *contractServer) rawUnary(method string, req []byte) error {
	var reply []byte
	return c.conn.Invoke(ctx, method, &req, &reply, grpc.ForceCodec(rawCodec{}))
}

func (c *contractServer) rawStream(method string, req []byte) error {
	s, err := c.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	if err := s.SendMsg(&req); err != nil {
		return err
	}
	_ = s.CloseSend()
	var reply []byte
	return s.RecvMsg(&reply)
}

const service = "/telemetra.v1.TelemetraService/"

// TestBadInputIsA4xxOverBothProtocols: invalid UTF-8 in the path, the query, a page token and
// the body, and a 1 MB field, get 400 / INVALID_ARGUMENT with a short message, and every
// rejected request is in the access log.
func TestBadInputIsA4xxOverBothProtocols(t *testing.T) {
	c := startContractServer(t, gateway.Limits{})
	mega := strings.Repeat("a", 1_000_000)
	for _, tc := range []struct {
		name, target, field string
		body                io.Reader
	}{
		{"path", "/v1/channels/%FF%FE", "channel", nil},
		{"query", "/v1/events:subscribe?channels=%FF", "channels", nil},
		{"query of the SSE route", "/v1/events:sse?channels=%FF", "channels", nil},
		{"page token", "/v1/channels?page_token=%C3%28", "page_token", nil},
		{"page token, JSON name", "/v1/channels?pageToken=%C3%28", "pageToken", nil},
		{"body", "/v1/channels/demo_stream", "body", strings.NewReader("{\"name\":\"\xff\"}")},
		{"1 MB path field", "/v1/channels/" + mega, "channel", nil},
		{"1 MB query field", "/v1/channels?page_token=" + mega, "page_token", nil},
	} {
		t.Run("REST "+tc.name, func(t *testing.T) {
			code, grpcCode, msg, _ := c.rest(t, http.MethodGet, tc.target, tc.body)
			if code != http.StatusBadRequest || grpcCode != codes.InvalidArgument || !strings.Contains(msg, tc.field) {
				t.Fatalf("HTTP %d, %s %.200q; want 400 InvalidArgument naming %s", code, grpcCode, msg, tc.field)
			}
			if len(msg) > 200 {
				t.Fatalf("the message is %d bytes: it echoes the input", len(msg))
			}
		})
	}
	for _, tc := range []struct {
		name, method, field string
		req                 []byte
		stream              bool
	}{
		{"resource name", "GetChannel", "name", wireString(1, "channels/\xff\xfe"), false},
		{"page token", "ListChannels", "page_token", wireString(2, "\xc3\x28"), false},
		{"a repeated field, streaming", "SubscribeChannelEvents", "channels", wireString(1, "\xff"), true},
		{"1 MB field", "GetChannel", "name", wireString(1, "channels/"+mega), false},
		{"1 MB field, streaming", "SubscribeChannelEvents", "channels[0]", wireString(1, mega), true},
	} {
		t.Run("gRPC "+tc.name, func(t *testing.T) {
			var err error
			if tc.stream {
				err = c.rawStream(service+tc.method, tc.req)
			} else {
				err = c.rawUnary(service+tc.method, tc.req)
			}
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), tc.field) {
				t.Fatalf("%v; want InvalidArgument naming %s", err, tc.field)
			}
			if len(st.Message()) > 200 {
				t.Fatalf("the message is %d bytes: it echoes the input", len(st.Message()))
			}
		})
	}
	logs := c.logs.String()
	for _, want := range []string{
		`msg=http method=GET path=/v1/channels/%FF%FE status=400`,
		`msg=rpc method=/telemetra.v1.TelemetraService/GetChannel code=InvalidArgument`,
		`msg=rpc method=/telemetra.v1.TelemetraService/SubscribeChannelEvents code=InvalidArgument`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no access log line with %q in:\n%.3000s", want, logs)
		}
	}
}

// TestUndeclaredMethodsGet405WithAllow: every method a path of the document does not declare
// gets 405 and an Allow header; HEAD is served as GET except on streams.
func TestUndeclaredMethodsGet405WithAllow(t *testing.T) {
	c := startContractServer(t, gateway.Limits{})
	ops := c.doc.Operations()
	if len(ops) < 8 {
		t.Fatalf("the document has %d operations, want the 7 methods and the SSE route", len(ops))
	}
	declared := map[string][]string{} // methods by path
	for _, op := range ops {
		declared[op.Path] = append(declared[op.Path], op.Method)
	}
	for path, methods := range declared {
		target := path
		for name, v := range validPathValues {
			target = strings.ReplaceAll(target, "{"+name+"}", v)
		}
		stream := strings.HasPrefix(path, "/v1/events:") || strings.HasSuffix(path, ":subscribe")
		allow := slices.Clone(methods)
		if slices.Contains(methods, "GET") && !stream {
			allow = append(allow, "HEAD")
		}
		slices.Sort(allow)
		wantAllow := strings.Join(allow, ", ")
		for _, method := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "QUERY", "HEAD"} {
			if slices.Contains(allow, method) {
				continue
			}
			code, _, msg, h := c.rest(t, method, target, nil)
			if code != http.StatusMethodNotAllowed || h.Get("Allow") != wantAllow {
				t.Errorf("%s %s: HTTP %d Allow %q (%s); want 405 Allow %q", method, target, code, h.Get("Allow"), msg, wantAllow)
			}
		}
	}
	resp, err := http.Head("http://" + c.srv.HTTPAddr() + "/v1/channels/demo_stream")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /v1/channels/demo_stream: %v %v; want 200 as GET", resp, err)
	}
	resp.Body.Close()
	// over gRPC, a method the service does not declare
	if err := c.rawUnary(service+"DeleteChannel", wireString(1, "channels/demo_stream")); status.Code(err) != codes.Unimplemented {
		t.Errorf("an undeclared gRPC method: %v; want Unimplemented", err)
	}
	code, _, _, h := c.rest(t, "POST", "/openapi.json", nil)
	if code != http.StatusMethodNotAllowed || !strings.Contains(h.Get("Allow"), "GET") {
		t.Errorf("POST /openapi.json: HTTP %d Allow %q; want 405", code, h.Get("Allow"))
	}
}

// TestResponsesHaveNoNulls: whatever the client accepts, unset fields are left out (the
// document has no nullable field).
func TestResponsesHaveNoNulls(t *testing.T) {
	c := startContractServer(t, gateway.Limits{})
	for _, accept := range []string{"", "*/*", "application/json", "text/html"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+c.srv.HTTPAddr()+"/v1/channels/demo_stream", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte("null")) || !bytes.Contains(body, []byte(`"startedAt"`)) {
			t.Errorf("Accept %q: HTTP %d %s; want the channel without nulls", accept, resp.StatusCode, body)
		}
	}
}

// TestHistoryOffWithoutADatabase: history calls say why they are not served.
func TestHistoryOffWithoutADatabase(t *testing.T) {
	c := startContractServer(t, gateway.Limits{})
	_, err := pb.NewTelemetraServiceClient(c.conn).ListWindowMetrics(ctx, &pb.ListWindowMetricsRequest{Parent: "channels/demo_stream"})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "history is off: no database configured") {
		t.Fatalf("ListWindowMetrics without a database: %v; want Unimplemented, history is off", err)
	}
	code, _, msg, _ := c.rest(t, http.MethodGet, "/v1/channels/demo_stream:summarize", nil)
	if code != http.StatusNotImplemented || !strings.Contains(msg, "history is off") {
		t.Fatalf("summarize without a database: HTTP %d %s", code, msg)
	}
	if logs := c.logs.String(); strings.Count(logs, `level=WARN msg="history is off`) != 1 || strings.Contains(logs, "level=ERROR") {
		t.Fatalf("want one line at start saying history is off, no errors; logs:\n%s", logs)
	}
}

// TestIdleConnectionsAreClosed: an idle keep-alive HTTP connection is closed after the idle
// timeout, and an idle gRPC connection gets GOAWAY.
func TestIdleConnectionsAreClosed(t *testing.T) {
	const idle = 500 * time.Millisecond
	c := startContractServer(t, gateway.Limits{HTTPIdleTimeout: idle, GRPCMaxConnectionIdle: idle})
	t.Run("HTTP", func(t *testing.T) {
		conn, err := net.Dial("tcp", c.srv.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// before the request: the server's idle clock starts once it has answered, never earlier
		sent := time.Now()
		if _, err := fmt.Fprintf(conn, "GET /v1/channels/demo_stream HTTP/1.1\r\nHost: telemetra\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute)) // a backstop, not the assertion
		if n, err := r.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection: read %d bytes, %v; want it closed (EOF)", n, err)
		}
		if waited := time.Since(sent); waited < idle {
			t.Fatalf("closed %s after the request, before the idle timeout of %s", waited, idle)
		}
	})
	t.Run("gRPC", func(t *testing.T) {
		opened := time.Now() // before the dial: the server's idle clock starts at its accept
		conn, err := net.Dial("tcp", c.srv.GRPCAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		framer := http2.NewFramer(conn, conn)
		if err := framer.WriteSettings(); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		for {
			f, err := framer.ReadFrame()
			if err != nil {
				t.Fatalf("before a GOAWAY: %v", err)
			}
			if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
				_ = framer.WriteSettingsAck()
			}
			if _, ok := f.(*http2.GoAwayFrame); ok {
				break
			}
		}
		if waited := time.Since(opened); waited < idle {
			t.Fatalf("GOAWAY after %s, before the idle timeout of %s", waited, idle)
		}
	})
}

// TestStreamsOutliveTheWriteTimeout: the write timeout bounds answers, not the NDJSON and SSE
// streams, which run for as long as the client reads.
func TestStreamsOutliveTheWriteTimeout(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	c := startContractServerWith(t, gateway.Config{Limits: gateway.Limits{HTTPWriteTimeout: writeTimeout}, Heartbeat: 100 * time.Millisecond})
	for _, path := range []string{"/v1/events:subscribe", "/v1/events:sse"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get("http://" + c.srv.HTTPAddr() + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			lines := bufio.NewScanner(resp.Body)
			began := time.Now()
			n := 0
			for time.Since(began) < 10*writeTimeout {
				if !lines.Scan() {
					t.Fatalf("the stream ended after %s and %d lines (%v); the write timeout is %s", time.Since(began), n, lines.Err(), writeTimeout)
				}
				n++
			}
		})
	}
}

// violations are values that break a rule of the document, by rule; a rule without samples
// fails TestTheDocumentsRulesAreEnforcedOverGRPC, so a new rule cannot go untested.
var violations = map[string][]string{
	"pattern ^[a-z0-9][a-z0-9_]{2,24}$":             {"0", "ab", "Demo_stream", "_abc", "a-b-c"},
	"pattern ^(-|[a-z0-9][a-z0-9_]{2,24})$":         {"--", "0", "Demo"},
	"pattern ^(channels/)?[a-z0-9][a-z0-9_]{2,24}$": {"NO!", "channels/", "users/abc"},
	"pattern ^[A-Za-z0-9_-]*$":                      {"a+b", "a/b"},
	"pattern ^[0-9]{0,19}$":                         {"abc", "-1", "1e9", "12345678901234567890"},
	"pattern ^[!-~]*$":                              nil, // a header value's rule; the token is not checked without --auth-token
	"minimum 0":                                     {"-1", "-2147483648"},
	"maxItems 1000":                                 nil, // checked below: 1001 values
	"maxLength 1024":                                {strings.Repeat("a", 1025)},
	"enum MOMENT_KIND_CHAT_SPIKE":                   {"MOMENT_KIND_UNSPECIFIED", "99"},
	"enum CHANNEL_EVENT_TYPE_PROVISIONAL_WINDOW":    {"CHANNEL_EVENT_TYPE_UNSPECIFIED", "99"},
	"enum LIVE_FILTER_UNSPECIFIED":                  {"99"},
	"enum RESOLUTION_UNSPECIFIED":                   {"99"},
	"enum RANKING_METRIC_VIEWERS":                   {"RANKING_METRIC_UNSPECIFIED", "99"},
	"enum RANKING_SCOPE_UNSPECIFIED":                {"99"},
	"required":                                      {""}, // the parameter left out
	"enum ALERT_DELIVERY_STATE_UNSPECIFIED":         {"99"},
	"pattern " + gateway.AlertSubscriptionIDPattern: {"-", "ABC", strings.Repeat("0", 31), strings.Repeat("g", 32)},
	"pattern ^(-|[0-9a-f]{32})$":                    {"--", "A", strings.Repeat("0", 33)},
	"pattern " + gateway.AlertDeliveryIDPattern:     {"x", "-1", "1234567890123456789"},
	"pattern " + gateway.AlertURLPattern: {"ftp://example.com/", "/hook", "http:///x", "https://me@example.com/",
		"https://example.com/#f", "https://example.com/%zz", "https://exämple.com/", "https://example.com/" + strings.Repeat("a", 2100)},
	"pattern ^([a-z0-9][a-z0-9_]{2,24})?$":        {"Demo", "ab", "demo stream"},
	"pattern " + gateway.MinRaidViewersPattern:    {"-1", "01", "1.5", " 1"},
	"pattern " + gateway.PreviousSecretTTLPattern: {"-1s", "604801s", "604800.5s", "1000000s", "1m", "1"},
	"maxLength 1024 (characters)":                 {strings.Repeat("é", 1025)},
	"maxItems 16":                                 nil, // checked below: 17 items
	"type string":                                 {"5", "null", "true", "{}"},
	"type number":                                 {`"1"`, "null", "[]"},
	"type array":                                  {`"MOMENT_KIND_RAID"`, "null", "{}"},
	"closed":                                      {`{"noSuchField":1}`},
}

// validBodies are bodies that break no rule, by operation.
var validBodies = map[string]string{"CreateAlertSubscription": `{"url":"https://example.com/hook"}`}

// validPathValues are values of the path parameters that break no rule.
var validPathValues = map[string]string{"channel": "demo_stream", "session": "1760610600",
	"alertSubscription": strings.Repeat("0", 32), "delivery": "1"}

// rules names the rules of a parameter as the violations table does.
func rules(p *openapi.Param) []string {
	var out []string
	if p.Required && p.In == "query" {
		out = append(out, "required")
	}
	r := p
	if p.Items != nil {
		r = p.Items
		if p.MaxItems != nil {
			out = append(out, fmt.Sprintf("maxItems %d", *p.MaxItems))
		}
	}
	if r.Pattern != nil {
		out = append(out, "pattern "+r.Pattern.String())
	}
	if r.Minimum != nil {
		out = append(out, fmt.Sprintf("minimum %v", *r.Minimum))
	}
	if r.MaxLength != nil && r.Pattern == nil && len(r.Enum) == 0 {
		out = append(out, fmt.Sprintf("maxLength %d", *r.MaxLength))
	}
	if len(r.Enum) > 0 {
		out = append(out, "enum "+r.Enum[0])
	}
	return out
}

// TestTheDocumentsRulesAreEnforcedOverGRPC: each rule the served OpenAPI document declares is
// enforced by the gRPC service too, not only by the REST front that reads the document: a
// request that breaks it, built from the REST parameters as grpc-gateway builds it, gets
// INVALID_ARGUMENT over gRPC and 400 over REST; the same request without the violation does
// not. (That the server takes every request the document allows is schemathesis' part.)
func TestTheDocumentsRulesAreEnforcedOverGRPC(t *testing.T) {
	c := startContractServer(t, gateway.Limits{})
	desc, err := protoregistry.GlobalFiles.FindDescriptorByName("telemetra.v1.TelemetraService")
	if err != nil {
		t.Fatal(err)
	}
	methods := desc.(protoreflect.ServiceDescriptor).Methods()
	checked := 0
	for _, op := range c.doc.Operations() {
		name := strings.TrimPrefix(op.ID, "TelemetraService_")
		md := methods.ByName(protoreflect.Name(name))
		if md == nil {
			if op.Path == "/v1/events:sse" {
				continue // the SSE rendering of SubscribeChannelEvents: same parameters
			}
			t.Fatalf("operation %s is no method of the service", op.ID)
		}
		call := func(values url.Values, body string) (codes.Code, int) {
			msgType, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
			if err != nil {
				t.Fatal(err)
			}
			req := msgType.New().Interface()
			// the resource name is the path from /v1/ to its last parameter, as grpc-gateway
			// binds {name=channels/*/sessions/*}
			path, resource := op.Path, ""
			if k := strings.LastIndex(op.Path, "}"); k >= 0 {
				resource = strings.TrimPrefix(op.Path[:k+1], "/v1/")
			}
			for _, p := range op.Params {
				if p.In == "path" {
					v := values.Get(p.Name)
					resource = strings.ReplaceAll(resource, "{"+p.Name+"}", v)
					path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
				}
			}
			for _, field := range []string{"name", "parent"} {
				if fd := md.Input().Fields().ByName(protoreflect.Name(field)); fd != nil && resource != "" {
					req.ProtoReflect().Set(fd, protoreflect.ValueOfString(resource))
				}
			}
			query := url.Values{}
			for k, v := range values {
				if !slices.ContainsFunc(op.Params, func(p *openapi.Param) bool { return p.In == "path" && p.Name == k }) {
					query[k] = v
				}
			}
			var grpcCode codes.Code
			if err := populateBody(req, op.Body, body); err != nil {
				grpcCode = codes.InvalidArgument // grpc-gateway refuses it before gRPC
			} else if err := runtime.PopulateQueryParameters(req, query, utilities.NewDoubleArray(nil)); err != nil {
				grpcCode = codes.InvalidArgument // grpc-gateway refuses it before gRPC
			} else {
				b, err := proto.Marshal(req)
				if err != nil {
					t.Fatal(err)
				}
				if md.IsStreamingServer() {
					err = c.rawStream(service+name, b)
				} else {
					err = c.rawUnary(service+name, b)
				}
				grpcCode = status.Code(err)
			}
			var bodyReader io.Reader
			if body != "" {
				bodyReader = strings.NewReader(body)
			}
			httpCode, _, _, _ := c.rest(t, op.Method, path+"?"+query.Encode(), bodyReader)
			return grpcCode, httpCode
		}
		valid := url.Values{}
		for _, p := range op.Params {
			if p.In == "path" {
				valid.Set(p.Name, validPathValues[p.Name])
			}
			if p.In == "query" && p.Required && len(p.Enum) > 0 {
				valid.Set(p.Name, p.Enum[0])
			}
		}
		validBody := ""
		if op.Body != nil {
			validBody = cmpOr(validBodies[name], "{}")
		}
		if g, h := call(valid, validBody); g == codes.InvalidArgument || h == http.StatusBadRequest {
			t.Fatalf("%s with valid parameters: gRPC %s, HTTP %d", op.ID, g, h)
		}
		checked += checkBodyRules(t, op, validBody, func(body string) (codes.Code, int) { return call(valid, body) })
		for _, p := range op.Params {
			for _, rule := range rules(p) {
				samples, known := violations[rule]
				if !known {
					t.Errorf("%s %s: no violation samples for the rule %q: add some", op.ID, p.Name, rule)
					continue
				}
				if rule == "maxItems 1000" {
					samples = []string{strings.TrimSuffix(strings.Repeat("demo_stream,", 1001), ",")}
				}
				for _, sample := range samples {
					values := url.Values{}
					for k, v := range valid {
						values[k] = v
					}
					values[p.Name] = strings.Split(sample, ",")
					if p.Items == nil {
						values[p.Name] = []string{sample}
					}
					if rule == "required" {
						delete(values, p.Name)
					}
					g, h := call(values, validBody)
					if g != codes.InvalidArgument || h != http.StatusBadRequest {
						t.Errorf("%s %s=%s (%s): gRPC %s, HTTP %d; want InvalidArgument and 400", op.ID, p.Name, openapi.ShortPrefix(sample), rule, g, h)
					}
					checked++
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d violations checked", checked)
	}
}

func cmpOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// populateBody fills req from a JSON body as grpc-gateway does: into the field the body
// parameter names, or into the whole request (body "*").
func populateBody(req proto.Message, body *openapi.Body, raw string) error {
	if body == nil || raw == "" {
		return nil
	}
	fd := req.ProtoReflect().Descriptor().Fields().ByJSONName(body.Name)
	if fd == nil || fd.Message() == nil {
		whole := req.ProtoReflect().New().Interface()
		if err := protojson.Unmarshal([]byte(raw), whole); err != nil {
			return err
		}
		proto.Merge(req, whole) // Unmarshal would clear the path's fields
		return nil
	}
	m := req.ProtoReflect().NewField(fd)
	if err := protojson.Unmarshal([]byte(raw), m.Message().Interface()); err != nil {
		return err
	}
	req.ProtoReflect().Set(fd, m)
	return nil
}

// bodyRules names the rules of a body property as the violations table does.
func bodyRules(p *openapi.Param) []string {
	out := []string{"type " + p.Type}
	if p.Type == "integer" {
		out = out[:0] // a JSON number in a string is a pattern's business; none is declared
	}
	for _, r := range rules(p) {
		if r == "maxLength 1024" && p.Type == "string" {
			r = "maxLength 1024 (characters)" // body strings count characters, not bytes
		}
		out = append(out, r)
	}
	return out
}

// checkBodyRules sends valid with each body rule of op broken, and expects INVALID_ARGUMENT
// over gRPC and 400 over REST; it returns how many violations it checked.
func checkBodyRules(t *testing.T, op *openapi.Operation, valid string, call func(body string) (codes.Code, int)) int {
	t.Helper()
	if op.Body == nil {
		return 0
	}
	var base map[string]json.RawMessage
	if err := json.Unmarshal([]byte(valid), &base); err != nil {
		t.Fatal(err)
	}
	with := func(name string, value json.RawMessage) string {
		m := map[string]json.RawMessage{}
		for k, v := range base {
			m[k] = v
		}
		if value == nil {
			delete(m, name)
		} else {
			m[name] = value
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	checked := 0
	expect := func(what, body string) {
		t.Helper()
		g, h := call(body)
		if strings.Contains(what, " type ") && g != codes.InvalidArgument {
			// a JSON type (null, 5 for an int64's "5") is the REST front's alone: protojson
			// takes more spellings than the document declares, and protobuf has no JSON types
			g = codes.InvalidArgument
		}
		if g != codes.InvalidArgument || h != http.StatusBadRequest {
			t.Errorf("%s %s: %s: gRPC %s, HTTP %d; want InvalidArgument and 400", op.ID, what, openapi.ShortPrefix(body), g, h)
		}
		checked++
	}
	for _, name := range op.Body.RequiredProps {
		expect("without "+name, with(name, nil))
	}
	if op.Body.Closed {
		expect("closed", with("noSuchField", json.RawMessage("1")))
	} else {
		t.Errorf("%s: the body is not closed (additionalProperties: false), yet protojson refuses unknown fields", op.ID)
	}
	for name, p := range op.Body.Props {
		if p.ReadOnly {
			continue
		}
		for _, rule := range bodyRules(p) {
			samples, known := violations[rule]
			if !known {
				t.Errorf("%s body %s: no violation samples for the rule %q: add some", op.ID, name, rule)
				continue
			}
			if rule == "maxItems 16" {
				items := strings.Repeat(`"`+p.Items.Enum[0]+`",`, 17)
				expect(name+" "+rule, with(name, json.RawMessage("["+strings.TrimSuffix(items, ",")+"]")))
				continue
			}
			for _, sample := range samples {
				value := sample
				if !strings.HasPrefix(rule, "type ") && !strings.HasPrefix(rule, "minimum") {
					q, _ := json.Marshal(sample) // the samples of string rules are the strings
					value = string(q)
				}
				if p.Type == "array" && !strings.HasPrefix(rule, "type ") {
					value = "[" + value + "]"
				}
				expect(name+" "+rule, with(name, json.RawMessage(value)))
			}
		}
	}
	return checked
}
