package openapi

import (
	"strings"
	"testing"
)

const bodyDoc = `{"paths": {"/v1/things": {"post": {"operationId": "CreateThing", "parameters": [
  {"name": "thing", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Thing"}}]}}},
 "definitions": {"Thing": {"type": "object", "required": ["url"], "additionalProperties": false, "properties": {
  "url": {"type": "string", "pattern": "^https?://", "maxLength": 20},
  "count": {"type": "string", "format": "int64", "pattern": "^[0-9]+$"},
  "score": {"type": "number", "minimum": 0},
  "on": {"type": "boolean"},
  "kinds": {"type": "array", "maxItems": 2, "items": {"$ref": "#/definitions/Kind"}},
  "created": {"type": "string", "format": "date-time", "readOnly": true}}},
  "Kind": {"type": "string", "enum": ["A", "B"]}}}`

// TestCheckBody: a body is a JSON object of its declared properties with their JSON types and
// rules; read-only properties are checked and dropped.
func TestCheckBody(t *testing.T) {
	spec, err := Parse([]byte(bodyDoc))
	if err != nil {
		t.Fatal(err)
	}
	op := spec.Operations()[0]
	for _, tc := range []struct{ body, want string }{
		{`{"url":"http://a"}`, `{"url":"http://a"}`},
		{`{"url":"http://a","count":"5","score":0.5,"on":true,"kinds":["A","B"],"created":"2026-01-01T00:00:00Z"}`,
			`{"count":"5","kinds":["A","B"],"on":true,"score":0.5,"url":"http://a"}`},
		{``, "body: required"},
		{`[]`, "body: not a JSON object"},
		{`{"url":"http://a"} {}`, "body: more than one JSON value"},
		{`{}`, "url: required"},
		{`{"url":"ftp://a"}`, "url: \"ftp://a\" does not match"},
		{`{"url":"http://` + strings.Repeat("a", 20) + `"}`, "url: \"http://aaaa"},
		{`{"url":null}`, "url: null, an object or an array; want a JSON string"},
		{`{"url":"http://a","count":5}`, "count: a number; want a JSON string"},
		{`{"url":"http://a","score":-1}`, "score: -1 is less than the minimum of 0"},
		{`{"url":"http://a","score":"1"}`, "score: a string; want a JSON number"},
		{`{"url":"http://a","on":"true"}`, "on: a string; want a JSON boolean"},
		{`{"url":"http://a","kinds":["A","C"]}`, "kinds[1]: \"C\" is not one of A, B"},
		{`{"url":"http://a","kinds":["A","A","A"]}`, "kinds: 3 items; at most 2"},
		{`{"url":"http://a","kinds":"A"}`, "kinds: not an array"},
		{`{"url":"http://a","created":"yesterday"}`, "created: \"yesterday\" is not an RFC 3339"},
		{`{"url":"http://a","extra":1}`, "extra: not a property of this body"},
	} {
		out, v := op.CheckBody([]byte(tc.body))
		got := string(out)
		if v != nil {
			got = v.Error()
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%.60s: %s; want %s", tc.body, got, tc.want)
		}
	}
}

// TestBodiesTheFrontCannotCheckAreRefused: a nested object body would go unchecked, so the
// document is refused rather than served with a promise the front does not keep.
func TestBodiesTheFrontCannotCheckAreRefused(t *testing.T) {
	doc := strings.Replace(bodyDoc, `"on": {"type": "boolean"}`, `"on": {"type": "object"}`, 1)
	if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), `type "object" is not served`) {
		t.Fatalf("a nested object body: %v", err)
	}
}
