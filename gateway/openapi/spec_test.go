package openapi

import (
	"net/url"
	"strings"
	"testing"
)

const testDocument = `{
  "produces": ["application/json"],
  "paths": {
    "/v1/channels/{channel}": {"get": {"operationId": "Get", "parameters": [
      {"name": "channel", "in": "path", "required": true, "type": "string", "pattern": "^[a-z]{3}$"}]}},
    "/v1/channels/{channel}:summarize": {"get": {"operationId": "Summarize", "parameters": [
      {"name": "channel", "in": "path", "required": true, "type": "string"},
      {"name": "startTime", "in": "query", "type": "string", "format": "date-time"},
      {"name": "pageSize", "in": "query", "type": "integer", "format": "int32", "minimum": 0},
      {"name": "live", "in": "query", "type": "boolean"},
      {"name": "kinds", "in": "query", "type": "array", "collectionFormat": "multi", "maxItems": 2,
       "items": {"type": "string", "enum": ["A", "B"]}}]}},
    "/v1/events:subscribe": {"get": {"operationId": "Sub", "produces": ["application/x-ndjson"]}}
  }
}`

func TestRoute(t *testing.T) {
	s, err := Parse([]byte(testDocument))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, wantOp, wantChannel string
	}{
		{"/v1/channels/abc", "Get", "abc"},
		{"/v1/channels/abc:summarize", "Summarize", "abc"}, // the custom method, not a channel "abc:summarize"
		{"/v1/channels/:summarize", "Get", ":summarize"},   // an empty channel is no custom method
		{"/v1/events:subscribe", "Sub", ""},
		{"/v1/channels", "", ""},
		{"/v1/channels/a/b", "", ""},
	} {
		segs, err := pathSegments(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		ops, vals, ok := s.Route(segs)
		if tc.wantOp == "" {
			if ok {
				t.Errorf("%s: routed to %v, want no route", tc.path, ops)
			}
			continue
		}
		if !ok || ops["GET"] == nil || ops["GET"].ID != tc.wantOp || vals["channel"] != tc.wantChannel {
			t.Errorf("%s: %v %v %v; want %s with channel %q", tc.path, ops, vals, ok, tc.wantOp, tc.wantChannel)
		}
	}
	if got := s.Operations()[0].Produces; len(got) != 1 || got[0] != "application/json" {
		t.Errorf("an operation without produces has %v, want the document's", got)
	}
}

func pathSegments(p string) ([]string, error) {
	return strings.Split(strings.TrimPrefix(p, "/"), "/"), nil
}

func TestCheck(t *testing.T) {
	s, err := Parse([]byte(testDocument))
	if err != nil {
		t.Fatal(err)
	}
	ops, _, _ := s.Route([]string{"v1", "channels", "abc:summarize"})
	summarize := ops["GET"]
	ops, _, _ = s.Route([]string{"v1", "channels", "abc"})
	get := ops["GET"]
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name    string
		op      *Operation
		channel string
		query   string
		want    string // a part of the violation; "" for none
	}{
		{"valid", summarize, "abc", "pageSize=0&live=true&kinds=A&kinds=B&startTime=2026-12-01T10:00:00Z", ""},
		{"snake_case spelling", summarize, "abc", "page_size=5", ""},
		{"pattern", get, "ABC", "", `channel: "ABC" does not match ^[a-z]{3}$`},
		{"minimum", summarize, "abc", "pageSize=-1", "pageSize: -1 is less than the minimum of 0"},
		{"minimum, snake_case", summarize, "abc", "page_size=-1", "page_size: -1 is less"},
		{"int32 overflow", summarize, "abc", "pageSize=2147483648", "not an integer of format int32"},
		{"not an integer", summarize, "abc", "pageSize=1.5", "not an integer"},
		{"boolean", summarize, "abc", "live=1", `live: "1" is not true or false`},
		{"enum item", summarize, "abc", "kinds=A&kinds=C", `kinds[1]: "C" is not one of A, B`},
		{"numeric enum", summarize, "abc", "kinds=0", `kinds[0]: "0" is not one of`},
		{"max items", summarize, "abc", "kinds=A&kinds=A&kinds=A", "kinds: 3 values; at most 2"},
		{"repeated scalar", summarize, "abc", "pageSize=1&pageSize=2", "given 2 times"},
		{"date-time", summarize, "abc", "startTime=yesterday", "not an RFC 3339 date-time"},
		{"invalid UTF-8 value", summarize, "abc", "other=%FF", `other: not valid UTF-8: "\xff"`},
		{"invalid UTF-8 path", get, "\xff\xfe", "", `not valid UTF-8`},
		{"invalid UTF-8 name", summarize, "abc", "%FF=1", "a parameter name not valid UTF-8"},
		{"too long", summarize, "abc", "other=" + long, "is 1000 bytes; at most 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			_, v := tc.op.Check(map[string]string{"channel": tc.channel}, q, 100)
			switch {
			case tc.want == "" && v != nil:
				t.Fatalf("violation %v, want none", v)
			case tc.want != "" && (v == nil || !strings.Contains(v.Error(), tc.want)):
				t.Fatalf("violation %v, want one with %q", v, tc.want)
			case v != nil && len(v.Error()) > 200:
				t.Fatalf("a violation of %d bytes echoes its input: %.80s…", len(v.Error()), v.Error())
			}
		})
	}
}

func TestCheckNormalisesDateTimes(t *testing.T) {
	s, err := Parse([]byte(testDocument))
	if err != nil {
		t.Fatal(err)
	}
	ops, _, _ := s.Route([]string{"v1", "channels", "abc:summarize"})
	for in, want := range map[string]string{
		"2026-12-01T10:00:00+01:00": "2026-12-01T09:00:00Z",
		"2026-12-01t10:00:00z":      "2026-12-01T10:00:00Z",
		"0001-01-01T00:00:00+01:00": "0001-01-01T00:00:00Z", // before the Timestamp range: its start
	} {
		q, v := ops["GET"].Check(map[string]string{"channel": "abc"}, url.Values{"startTime": {in}}, 100)
		if v != nil || q.Get("startTime") != want {
			t.Errorf("startTime=%s: %q %v, want %q", in, q.Get("startTime"), v, want)
		}
	}
}

func TestShortQuote(t *testing.T) {
	if got := ShortQuote(strings.Repeat("a", 1<<20)); len(got) > 40 || !strings.HasSuffix(got, "…") {
		t.Errorf("ShortQuote of 1 MiB = %q", got)
	}
	if got := ShortQuote("\xff"); got != `"\xff"` {
		t.Errorf("ShortQuote(\\xff) = %s", got)
	}
}
