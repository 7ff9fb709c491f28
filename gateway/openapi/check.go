package openapi

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Violation is a parameter that breaks a rule of the document.
type Violation struct {
	Param, Reason string
}

func (v *Violation) Error() string { return v.Param + ": " + v.Reason }

// The range of a google.protobuf.Timestamp, which every date-time parameter becomes.
var (
	minTimestamp = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTimestamp = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// Check checks the path values and the query of a request to op against op's parameter
// rules. Every query key and value must also be valid UTF-8 of at most maxBytes bytes,
// declared or not. It returns the query to serve: date-times in UTC, clamped to the
// protobuf Timestamp range (a bound beyond it selects the same data as the range's end).
//
// A query parameter may be spelled as declared (camelCase) or in snake_case, as grpc-gateway
// accepts both.
func (op *Operation) Check(pathValues map[string]string, query url.Values, maxBytes int) (url.Values, *Violation) {
	for key, vals := range query {
		if v := checkBytes(key, key, maxBytes); v != nil {
			return nil, &Violation{Param: "query", Reason: "a parameter name " + v.Reason}
		}
		for _, val := range vals {
			if v := checkBytes(key, val, maxBytes); v != nil {
				return nil, v
			}
		}
	}
	out := url.Values{}
	for key, vals := range query {
		out[key] = slices.Clone(vals)
	}
	for _, p := range op.Params {
		switch p.In {
		case "path":
			val, ok := pathValues[p.Name]
			if !ok {
				return nil, &Violation{Param: p.Name, Reason: "required"}
			}
			if v := checkBytes(p.Name, val, maxBytes); v != nil {
				return nil, v
			}
			if _, v := p.checkValue(val); v != nil {
				return nil, v
			}
		case "query":
			key, vals := p.Name, query[p.Name]
			if snake := snakeCase(p.Name); len(vals) == 0 && snake != p.Name {
				key, vals = snake, query[snake]
			}
			if v := p.checkValues(vals); v != nil {
				v.Param = key + strings.TrimPrefix(v.Param, p.Name) // as the client spelled it
				return nil, v
			}
			for k, val := range vals {
				norm, _ := p.itemRules().checkValue(val)
				out[key][k] = norm
			}
		}
	}
	return out, nil
}

func (p *Param) itemRules() *Param {
	if p.Items != nil {
		return p.Items
	}
	return p
}

func (p *Param) checkValues(vals []string) *Violation {
	if len(vals) == 0 {
		if p.Required {
			return &Violation{Param: p.Name, Reason: "required"}
		}
		return nil
	}
	if p.Type != "array" {
		if len(vals) > 1 {
			return &Violation{Param: p.Name, Reason: fmt.Sprintf("given %d times; it takes one value", len(vals))}
		}
		_, v := p.checkValue(vals[0])
		return v
	}
	if p.MaxItems != nil && len(vals) > *p.MaxItems {
		return &Violation{Param: p.Name, Reason: fmt.Sprintf("%d values; at most %d", len(vals), *p.MaxItems)}
	}
	for k, val := range vals {
		if _, v := p.Items.checkValue(val); v != nil {
			v.Param = fmt.Sprintf("%s[%d]", p.Name, k)
			return v
		}
	}
	return nil
}

// checkValue checks one value against the rules and returns it normalised.
func (p *Param) checkValue(val string) (string, *Violation) {
	bad := func(format string, args ...any) (string, *Violation) {
		return "", &Violation{Param: p.Name, Reason: fmt.Sprintf(format, args...)}
	}
	switch p.Type {
	case "integer":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || (p.Format == "int32" && (n < math.MinInt32 || n > math.MaxInt32)) {
			return bad("%s is not an integer of format %s", ShortQuote(val), p.Format)
		}
		if p.Minimum != nil && float64(n) < *p.Minimum {
			return bad("%d is less than the minimum of %v", n, *p.Minimum)
		}
		if p.Maximum != nil && float64(n) > *p.Maximum {
			return bad("%d is more than the maximum of %v", n, *p.Maximum)
		}
		return val, nil
	case "number":
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return bad("%s is not a finite number", ShortQuote(val))
		}
		if p.Minimum != nil && f < *p.Minimum {
			return bad("%v is less than the minimum of %v", f, *p.Minimum)
		}
		if p.Maximum != nil && f > *p.Maximum {
			return bad("%v is more than the maximum of %v", f, *p.Maximum)
		}
		return val, nil
	case "boolean":
		if val != "true" && val != "false" {
			return bad("%s is not true or false", ShortQuote(val))
		}
		return val, nil
	}
	if len(p.Enum) > 0 && !slices.Contains(p.Enum, val) {
		return bad("%s is not one of %s", ShortQuote(val), strings.Join(p.Enum, ", "))
	}
	n := utf8.RuneCountInString(val)
	if p.MinLength != nil && n < *p.MinLength {
		return bad("%s is shorter than %d characters", ShortQuote(val), *p.MinLength)
	}
	if p.MaxLength != nil && n > *p.MaxLength {
		return bad("%s is longer than %d characters", ShortQuote(val), *p.MaxLength)
	}
	if p.Pattern != nil && !p.Pattern.MatchString(val) {
		return bad("%s does not match %s", ShortQuote(val), p.Pattern)
	}
	if p.Format == "date-time" {
		t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(val))
		if err != nil {
			return bad("%s is not an RFC 3339 date-time, e.g. 2026-12-01T09:00:00Z", ShortQuote(val))
		}
		t = t.UTC()
		if t.Before(minTimestamp) {
			t = minTimestamp
		}
		if t.After(maxTimestamp) {
			t = maxTimestamp
		}
		return t.Format(time.RFC3339Nano), nil
	}
	return val, nil
}

func checkBytes(name, val string, maxBytes int) *Violation {
	if !utf8.ValidString(val) {
		return &Violation{Param: strings.ToValidUTF8(ShortPrefix(name), "\uFFFD"), Reason: "not valid UTF-8: " + ShortQuote(val)}
	}
	if len(val) > maxBytes {
		return &Violation{Param: ShortPrefix(name), Reason: fmt.Sprintf("%s is %d bytes; at most %d", ShortQuote(val), len(val), maxBytes)}
	}
	return nil
}

// snakeCase turns a JSON name (pageSize) into its proto name (page_size).
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// quoteBytes is how much of a bad value an error message quotes.
const quoteBytes = 32

// ShortPrefix is s, or its first bytes and "…" when it is long: an error must not echo a
// megabyte of input back.
func ShortPrefix(s string) string {
	if len(s) <= quoteBytes {
		return s
	}
	return s[:quoteBytes] + "…"
}

// ShortQuote quotes at most a short prefix of s, escaping what is not printable UTF-8.
func ShortQuote(s string) string {
	if len(s) <= quoteBytes {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:quoteBytes]) + "…"
}
