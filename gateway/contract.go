package gateway

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/telemetra/telemetra/gateway/openapi"
	"github.com/telemetra/telemetra/schemas"
)

// MaxFieldBytes bounds every string of a request, REST or gRPC: the longest valid one (a page
// token, a channel resource name) is far shorter.
const MaxFieldBytes = 1024

// Media types of the two renderings of SubscribeChannelEvents over HTTP.
const (
	ndjsonMediaType = "application/x-ndjson"
	sseMediaType    = "text/event-stream"
	ssePath         = "/v1/events:sse"
	subscribePath   = "/v1/events:subscribe"
)

// streamPaths are the routes of server-streaming methods: newline-delimited JSON.
var streamPaths = map[string]bool{subscribePath: true, rankingStreamPath: true}

// apiDocument is the OpenAPI document the gateway serves and enforces: protoc-gen-openapiv2's
// output plus what the protos cannot say: the rules the handlers apply (channel pattern, page
// size minimum, field lengths, enum values the server refuses), the streaming media types and
// the Server-Sent Events route, which is not a proto method. The constants come from the code
// that enforces them, so the two cannot drift.
func apiDocument() ([]byte, *openapi.Spec, error) {
	var doc map[string]any
	if err := json.Unmarshal(openapi.JSON(), &doc); err != nil {
		return nil, nil, fmt.Errorf("parse generated OpenAPI document: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	renameDeliveryParam(paths)
	constrainAlertBodies(doc["definitions"].(map[string]any))
	for template, item := range paths {
		for _, op := range item.(map[string]any) {
			o := op.(map[string]any)
			params, _ := o["parameters"].([]any)
			for _, p := range params {
				constrainParam(template, p.(map[string]any))
			}
			if streamPaths[template] {
				o["produces"] = []any{ndjsonMediaType, "application/json"} // errors before the stream are JSON
			}
			if template == exportPath {
				exportOperation(o)
			}
		}
	}
	if sub, ok := paths[subscribePath].(map[string]any)["get"].(map[string]any); ok {
		paths[ssePath] = map[string]any{"get": sseOperation(sub)}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("encode OpenAPI document: %w", err)
	}
	spec, err := openapi.Parse(b)
	if err != nil {
		return nil, nil, err
	}
	return b, spec, nil
}

// constrainParam adds the rules the handlers enforce to one parameter.
func constrainParam(template string, p map[string]any) {
	name, _ := p["name"].(string)
	if p["type"] == "string" {
		p["maxLength"] = MaxFieldBytes
	}
	switch {
	case name == "channel" && p["in"] == "path":
		p["pattern"] = schemas.ChannelPattern
		if strings.HasSuffix(template, "/moments") { // channels/- is every channel (AIP-159)
			p["pattern"] = "^(-|" + strings.TrimSuffix(strings.TrimPrefix(schemas.ChannelPattern, "^"), "$") + ")$"
		}
	case name == "metric":
		// required, and its UNSPECIFIED value is refused (rankings.go)
		p["required"] = true
		delete(p, "default")
		p["enum"] = withoutUnspecified(p["enum"].([]any))
	case name == "pageSize" || name == "topEmotesLimit" || name == "limit" || name == "top":
		p["minimum"] = 0 // 0 is the default; above the maximum is coerced to it (AIP-158)
	case name == "session":
		p["pattern"] = SessionIDPattern
	case name == "pageToken":
		p["pattern"] = "^[A-Za-z0-9_-]*$" // base64url, see pagetoken.go
	case name == "channels":
		p["maxItems"] = MaxSubscribedChannels
		items := p["items"].(map[string]any)
		items["pattern"] = "^(channels/)?" + strings.TrimPrefix(schemas.ChannelPattern, "^")
		items["maxLength"] = MaxFieldBytes
	case name == "alertSubscription" && strings.HasSuffix(template, "/deliveries"):
		p["pattern"] = "^(-|" + strings.TrimSuffix(strings.TrimPrefix(AlertSubscriptionIDPattern, "^"), "$") + ")$" // every subscription's
	case name == "alertSubscription":
		p["pattern"] = AlertSubscriptionIDPattern
	case name == "delivery":
		p["pattern"] = AlertDeliveryIDPattern
	case name == "kinds" || name == "types":
		// the server refuses the UNSPECIFIED value of a filter list
		items := p["items"].(map[string]any)
		items["enum"] = withoutUnspecified(items["enum"].([]any))
	}
}

// generatedDeliveryParam is what protoc-gen-openapiv2 names the path parameter of
// {name=alertSubscriptions/*/deliveries/*}: the singular it guesses of "deliveries".
const generatedDeliveryParam = "deliverie"

// renameDeliveryParam names that parameter "delivery" (the document only: grpc-gateway binds
// the whole resource name, whatever the document calls its parts).
func renameDeliveryParam(paths map[string]any) {
	for template, item := range paths {
		renamed := strings.ReplaceAll(template, "{"+generatedDeliveryParam+"}", "{delivery}")
		if renamed == template {
			continue
		}
		for _, op := range item.(map[string]any) {
			for _, p := range op.(map[string]any)["parameters"].([]any) {
				if p := p.(map[string]any); p["name"] == generatedDeliveryParam {
					p["name"] = "delivery"
				}
			}
		}
		delete(paths, template)
		paths[renamed] = item
	}
}

// constrainAlertBodies declares the rules alerts.go enforces on the request bodies of the
// alert methods. Bodies are closed (additionalProperties: false), as protojson refuses unknown
// fields; the front checks them (openapi.Body).
func constrainAlertBodies(defs map[string]any) {
	sub := defs["AlertSubscription"].(map[string]any)
	sub["required"] = []any{"url"}
	sub["additionalProperties"] = false
	props := sub["properties"].(map[string]any)
	prop := func(name string) map[string]any { return props[name].(map[string]any) }
	prop("name")["readOnly"] = true // assigned by the server
	prop("url")["pattern"] = AlertURLPattern
	prop("url")["maxLength"] = maxAlertURLBytes // the pattern is ASCII: characters are bytes
	prop("channel")["pattern"] = "^(" + strings.TrimSuffix(strings.TrimPrefix(schemas.ChannelPattern, "^"), "$") + ")?$"
	kinds := prop("kinds")
	kinds["maxItems"] = maxAlertKinds
	kind := defs["MomentKind"].(map[string]any)
	kinds["items"] = map[string]any{"type": "string", "enum": withoutUnspecified(kind["enum"].([]any))}
	prop("minRaidViewers")["pattern"] = MinRaidViewersPattern
	prop("minAbsZScore")["minimum"] = 0
	prop("description")["maxLength"] = maxAlertDescription
	rotate := defs["RotateAlertSecretBody"].(map[string]any)
	rotate["additionalProperties"] = false
	rotate["properties"].(map[string]any)["previousSecretTtl"].(map[string]any)["pattern"] = PreviousSecretTTLPattern
	defs["TestAlertSubscriptionBody"].(map[string]any)["additionalProperties"] = false
}

// withoutUnspecified is an enum's values without its _UNSPECIFIED one.
func withoutUnspecified(values []any) []any {
	var kept []any
	for _, v := range values {
		if !strings.HasSuffix(v.(string), "_UNSPECIFIED") {
			kept = append(kept, v)
		}
	}
	return kept
}

// sseOperation is SubscribeChannelEvents rendered as Server-Sent Events.
func sseOperation(sub map[string]any) map[string]any {
	params := append([]any{}, sub["parameters"].([]any)...)
	params = append(params, map[string]any{
		"name": "access_token", "in": "query", "required": false, "type": "string", "maxLength": MaxFieldBytes,
		"pattern":     "^[!-~]*$", // it becomes a header value: printable ASCII
		"description": "The bearer token, for clients that cannot send an Authorization header (EventSource).",
	})
	return map[string]any{
		"summary": "SubscribeChannelEvents as Server-Sent Events: one event per ChannelEvent, named window, " +
			"moment, status or heartbeat, its data the ChannelEvent as JSON; an error ends the stream with an " +
			"\"error\" event holding the status.",
		"operationId": "TelemetraService_SubscribeChannelEventsSSE",
		"produces":    []any{sseMediaType, "application/json"}, // errors before the stream are JSON
		"parameters":  params,
		"responses": map[string]any{
			"200": map[string]any{
				"description": "A stream of Server-Sent Events.",
				"schema": map[string]any{"type": "array", "items": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"event": map[string]any{"type": "string", "enum": []any{"window", "moment", "status", "heartbeat", "error"}},
						"data":  map[string]any{"type": "string", "description": "The ChannelEvent (the error: a Status) as JSON."},
						"id":    map[string]any{"type": "string", "description": "ChannelEvent.sequence."},
					},
				}},
			},
			"default": sub["responses"].(map[string]any)["default"],
		},
		"tags": sub["tags"],
	}
}

// exportOperation declares what ExportWindows answers over REST: the CSV file (JSON for
// errors) and the header naming it.
func exportOperation(o map[string]any) {
	o["produces"] = []any{csvMediaType, "application/json"}
	ok := o["responses"].(map[string]any)["200"].(map[string]any)
	ok["description"] = "The CSV file: a header row, then one row per bucket, oldest first (docs/api.md)."
	ok["schema"] = map[string]any{"type": "string", "format": "binary"}
	ok["headers"] = map[string]any{"Content-Disposition": map[string]any{
		"type": "string", "description": `attachment; filename="{channel}[_session_{session}]_{start}_{end}_{resolution}.csv"`,
	}}
}
