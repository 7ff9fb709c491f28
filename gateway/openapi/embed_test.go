package openapi

import (
	"encoding/json"
	"testing"
)

func TestJSON(t *testing.T) {
	var doc struct {
		Swagger string                     `json:"swagger"`
		Info    struct{ Title string }     `json:"info"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(JSON(), &doc); err != nil {
		t.Fatalf("parse embedded document: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Errorf("swagger = %q, want 2.0", doc.Swagger)
	}
	for _, p := range []string{
		"/v1/channels",
		"/v1/channels/{channel}",
		"/v1/channels/{channel}/metrics",
		"/v1/channels/{channel}/moments",
		"/v1/channels/{channel}/sessions",
		"/v1/channels/{channel}:summarize",
		"/v1/events:subscribe",
	} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("path %s missing from the document", p)
		}
	}

	b := JSON()
	b[0] = 'x'
	if JSON()[0] == 'x' {
		t.Error("JSON returned the embedded slice itself, want a copy")
	}
}
