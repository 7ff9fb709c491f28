package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Body is the rules of a request body: a JSON object of scalar and array-of-scalar
// properties (OpenAPI v2 body parameter, the subset this API uses).
type Body struct {
	// Name is the body parameter's: the request field it fills, or "body" for the whole
	// request (grpc-gateway's body: "*").
	Name     string
	Required bool
	// Props are the declared properties, by name.
	Props map[string]*Param
	// RequiredProps must be present.
	RequiredProps []string
	// Closed refuses undeclared properties (additionalProperties: false).
	Closed bool
}

// schemaJS mirrors a JSON schema of the document, as far as Parse reads it.
type schemaJS struct {
	Ref                  string               `json:"$ref"`
	Type                 string               `json:"type"`
	Format               string               `json:"format"`
	Enum                 []string             `json:"enum"`
	Pattern              string               `json:"pattern"`
	Minimum              *float64             `json:"minimum"`
	Maximum              *float64             `json:"maximum"`
	MinLength            *int                 `json:"minLength"`
	MaxLength            *int                 `json:"maxLength"`
	MaxItems             *int                 `json:"maxItems"`
	Items                *schemaJS            `json:"items"`
	Properties           map[string]*schemaJS `json:"properties"`
	Required             []string             `json:"required"`
	ReadOnly             bool                 `json:"readOnly"`
	AdditionalProperties json.RawMessage      `json:"additionalProperties"` // a bool or a schema (a map)
}

func (d *documentJS) resolve(s *schemaJS) (*schemaJS, error) {
	for s != nil && s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/definitions/")
		if !ok || d.Definitions[name] == nil {
			return nil, fmt.Errorf("unresolved $ref %q", s.Ref)
		}
		s = d.Definitions[name]
	}
	return s, nil
}

// body reads a body parameter. A body the front cannot check (not an object, or with a
// property that is an object) is an error: the document must not promise what is not enforced.
func (d *documentJS) body(pj paramJS) (*Body, error) {
	s, err := d.resolve(pj.Schema)
	if err != nil {
		return nil, fmt.Errorf("body %s: %w", pj.Name, err)
	}
	if s == nil || (s.Type != "object" && s.Type != "") {
		return nil, fmt.Errorf("body %s: only an object body is served", pj.Name)
	}
	b := &Body{Name: pj.Name, Required: pj.Required, Props: map[string]*Param{}, RequiredProps: s.Required,
		Closed: string(s.AdditionalProperties) == "false"}
	for name, ps := range s.Properties {
		p, err := d.property(name, ps)
		if err != nil {
			return nil, fmt.Errorf("body %s: %w", pj.Name, err)
		}
		b.Props[name] = p
	}
	return b, nil
}

func (d *documentJS) property(name string, ps *schemaJS) (*Param, error) {
	s, err := d.resolve(ps)
	if err != nil {
		return nil, fmt.Errorf("property %s: %w", name, err)
	}
	pj := paramJS{Name: name, In: "body", Type: s.Type, Format: s.Format, Enum: s.Enum, Pattern: s.Pattern,
		Minimum: s.Minimum, Maximum: s.Maximum, MinLength: s.MinLength, MaxLength: s.MaxLength, MaxItems: s.MaxItems}
	switch s.Type {
	case "string", "integer", "number", "boolean":
	case "array":
		items, err := d.resolve(s.Items)
		if err != nil || items == nil || items.Type == "array" || items.Type == "object" {
			return nil, fmt.Errorf("property %s: only arrays of scalars are served", name)
		}
		pj.CollectionFormat = "multi"
		pj.Items = &paramJS{Type: items.Type, Format: items.Format, Enum: items.Enum, Pattern: items.Pattern,
			Minimum: items.Minimum, Maximum: items.Maximum, MinLength: items.MinLength, MaxLength: items.MaxLength}
	default:
		return nil, fmt.Errorf("property %s: type %q is not served", name, s.Type)
	}
	p, err := pj.param()
	if err != nil {
		return nil, err
	}
	p.ReadOnly = s.ReadOnly
	return p, nil
}

// CheckBody checks a request body against the operation's body rules and returns the body
// to serve: the same object without its read-only properties, which the server ignores (they
// are checked all the same, so that a request the document calls invalid is refused).
func (op *Operation) CheckBody(raw []byte) ([]byte, *Violation) {
	b := op.Body
	if len(bytes.TrimSpace(raw)) == 0 {
		if b.Required {
			return nil, &Violation{Param: "body", Reason: "required: a JSON object"}
		}
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, &Violation{Param: "body", Reason: "not a JSON object"}
	}
	if dec.More() {
		return nil, &Violation{Param: "body", Reason: "more than one JSON value"}
	}
	for _, name := range b.RequiredProps {
		if _, ok := obj[name]; !ok {
			return nil, &Violation{Param: name, Reason: "required"}
		}
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	slices.Sort(names) // the first violation, whatever the map order
	for _, name := range names {
		p := b.Props[name]
		if p == nil {
			if b.Closed {
				return nil, &Violation{Param: ShortPrefix(name), Reason: "not a property of this body"}
			}
			continue
		}
		if v := p.checkJSON(obj[name]); v != nil {
			return nil, v
		}
		if p.ReadOnly {
			delete(obj, name)
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, &Violation{Param: "body", Reason: "not a JSON object"}
	}
	return out, nil
}

// checkJSON checks one JSON value (decoded with UseNumber) against the rules.
func (p *Param) checkJSON(v any) *Violation {
	if p.Type == "array" {
		list, ok := v.([]any)
		if !ok {
			return &Violation{Param: p.Name, Reason: "not an array"}
		}
		if p.MaxItems != nil && len(list) > *p.MaxItems {
			return &Violation{Param: p.Name, Reason: fmt.Sprintf("%d items; at most %d", len(list), *p.MaxItems)}
		}
		for k, item := range list {
			if v := p.Items.checkJSON(item); v != nil {
				v.Param = fmt.Sprintf("%s[%d]", p.Name, k)
				return v
			}
		}
		return nil
	}
	var text string
	switch val := v.(type) {
	case string:
		if p.Type != "string" {
			return &Violation{Param: p.Name, Reason: fmt.Sprintf("a string; want a JSON %s", p.Type)}
		}
		text = val
	case json.Number:
		if p.Type != "integer" && p.Type != "number" {
			return &Violation{Param: p.Name, Reason: fmt.Sprintf("a number; want a JSON %s", p.Type)}
		}
		text = val.String()
	case bool:
		if p.Type != "boolean" {
			return &Violation{Param: p.Name, Reason: fmt.Sprintf("a boolean; want a JSON %s", p.Type)}
		}
		text = fmt.Sprint(val)
	default:
		return &Violation{Param: p.Name, Reason: fmt.Sprintf("null, an object or an array; want a JSON %s", p.Type)}
	}
	_, violation := p.checkValue(text)
	return violation
}
