package openapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Spec is the part of an OpenAPI v2 document a server needs to enforce it: the routes, their
// methods and the rules of their parameters. The server checks every request against it, so
// the document and the server cannot disagree on what a valid request is.
type Spec struct {
	paths []*path
}

// Operation is one method on one path.
type Operation struct {
	ID, Method, Path string
	Params           []*Param
	// Produces are the operation's response media types (the document's when it has none).
	Produces []string
	// Body is the rules of the request body; nil when the operation takes none.
	Body *Body
}

// Param is a path or query parameter and the rules it must meet (OpenAPI v2 parameter
// object, the subset this API uses).
type Param struct {
	Name, In, Type, Format string
	Required               bool
	Enum                   []string
	Pattern                *regexp.Regexp
	Minimum, Maximum       *float64
	MinLength, MaxLength   *int
	MaxItems               *int
	// Items are the rules of each element of an array parameter (collectionFormat multi).
	Items *Param
	// ReadOnly is set on a body property the server ignores in requests (readOnly).
	ReadOnly bool
}

type path struct {
	template string
	segments []segment
	ops      map[string]*Operation // by method, upper case
}

// segment is a path segment: a literal, or a parameter with an optional literal suffix (a
// custom method such as "{channel}:summarize").
type segment struct {
	literal string // when param is ""
	param   string
	suffix  string
}

// documentJS mirrors the JSON of an OpenAPI v2 document, as far as Parse reads it.
type documentJS struct {
	Produces    []string                          `json:"produces"`
	Paths       map[string]map[string]operationJS `json:"paths"`
	Definitions map[string]*schemaJS              `json:"definitions"`
}

type operationJS struct {
	OperationID string    `json:"operationId"`
	Produces    []string  `json:"produces"`
	Parameters  []paramJS `json:"parameters"`
}

type paramJS struct {
	Name             string    `json:"name"`
	In               string    `json:"in"`
	Type             string    `json:"type"`
	Format           string    `json:"format"`
	Required         bool      `json:"required"`
	Enum             []string  `json:"enum"`
	Pattern          string    `json:"pattern"`
	Minimum          *float64  `json:"minimum"`
	Maximum          *float64  `json:"maximum"`
	MinLength        *int      `json:"minLength"`
	MaxLength        *int      `json:"maxLength"`
	MaxItems         *int      `json:"maxItems"`
	CollectionFormat string    `json:"collectionFormat"`
	Items            *paramJS  `json:"items"`
	Schema           *schemaJS `json:"schema"`
}

// Parse reads the routes and parameter rules of an OpenAPI v2 document.
func Parse(doc []byte) (*Spec, error) {
	var d documentJS
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("parse OpenAPI document: %w", err)
	}
	s := &Spec{}
	templates := make([]string, 0, len(d.Paths))
	for t := range d.Paths {
		templates = append(templates, t)
	}
	sort.Strings(templates)
	for _, t := range templates {
		segs, err := parseTemplate(t)
		if err != nil {
			return nil, err
		}
		p := &path{template: t, segments: segs, ops: map[string]*Operation{}}
		for method, o := range d.Paths[t] {
			op := &Operation{ID: o.OperationID, Method: strings.ToUpper(method), Path: t, Produces: o.Produces}
			if len(op.Produces) == 0 {
				op.Produces = d.Produces
			}
			for _, pj := range o.Parameters {
				if pj.In == "body" {
					body, err := d.body(pj)
					if err != nil {
						return nil, fmt.Errorf("%s %s: %w", op.Method, t, err)
					}
					op.Body = body
					continue
				}
				param, err := pj.param()
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", op.Method, t, err)
				}
				op.Params = append(op.Params, param)
			}
			p.ops[op.Method] = op
		}
		s.paths = append(s.paths, p)
	}
	return s, nil
}

func (pj *paramJS) param() (*Param, error) {
	p := &Param{Name: pj.Name, In: pj.In, Type: pj.Type, Format: pj.Format, Required: pj.Required, Enum: pj.Enum,
		Minimum: pj.Minimum, Maximum: pj.Maximum, MinLength: pj.MinLength, MaxLength: pj.MaxLength, MaxItems: pj.MaxItems}
	if pj.Pattern != "" {
		re, err := regexp.Compile(pj.Pattern)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: pattern %q: %w", pj.Name, pj.Pattern, err)
		}
		p.Pattern = re
	}
	if pj.Type == "array" {
		if pj.Items == nil {
			return nil, fmt.Errorf("parameter %s: an array without items", pj.Name)
		}
		if pj.CollectionFormat != "multi" {
			return nil, fmt.Errorf("parameter %s: collectionFormat %q; only multi is served", pj.Name, pj.CollectionFormat)
		}
		items, err := pj.Items.param()
		if err != nil {
			return nil, err
		}
		items.Name = pj.Name
		p.Items = items
	}
	return p, nil
}

func parseTemplate(t string) ([]segment, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, fmt.Errorf("path %q does not start with /", t)
	}
	var segs []segment
	for _, part := range strings.Split(t[1:], "/") {
		if !strings.HasPrefix(part, "{") {
			segs = append(segs, segment{literal: part})
			continue
		}
		end := strings.IndexByte(part, '}')
		if end < 0 {
			return nil, fmt.Errorf("path %q: unclosed parameter in %q", t, part)
		}
		segs = append(segs, segment{param: part[1:end], suffix: part[end+1:]})
	}
	return segs, nil
}

// Operations lists every operation, by path then method.
func (s *Spec) Operations() []*Operation {
	var ops []*Operation
	for _, p := range s.paths {
		for _, m := range p.methods() {
			ops = append(ops, p.ops[m])
		}
	}
	return ops
}

func (p *path) methods() []string {
	ms := make([]string, 0, len(p.ops))
	for m := range p.ops {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	return ms
}

// Route finds the path that segments (unescaped path segments, without the leading empty one)
// match, the values of its path parameters, and the methods it declares. Among several
// matches the one with the most literal characters wins ("x:summarize" is the custom method,
// not a channel named so). ok is false when no path matches.
func (s *Spec) Route(segments []string) (ops map[string]*Operation, values map[string]string, ok bool) {
	best := -1
	for _, p := range s.paths {
		vals, score, matched := p.match(segments)
		if matched && score > best {
			best, ops, values = score, p.ops, vals
		}
	}
	return ops, values, best >= 0
}

func (p *path) match(segments []string) (map[string]string, int, bool) {
	if len(segments) != len(p.segments) {
		return nil, 0, false
	}
	vals := map[string]string{}
	score := 0
	for k, seg := range p.segments {
		got := segments[k]
		if seg.param == "" {
			if got != seg.literal {
				return nil, 0, false
			}
			score += len(seg.literal)
			continue
		}
		v, ok := strings.CutSuffix(got, seg.suffix)
		if !ok || v == "" {
			return nil, 0, false
		}
		vals[seg.param] = v
		score += len(seg.suffix)
	}
	return vals, score, true
}

// Allowed lists the methods of ops for an Allow header.
func Allowed(ops map[string]*Operation) []string {
	ms := make([]string, 0, len(ops))
	for m := range ops {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	return ms
}
