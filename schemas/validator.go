package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Validator checks raw events against the embedded JSON Schemas (draft-07, with format
// assertions on). Create one with NewValidator and share it: it is safe for concurrent use.
//
// Validate is the reference: it runs the real JSON Schema validator
// (github.com/santhosh-tekuri/jsonschema/v6) on the input parsed by encoding/json, after the
// input policy described in the package documentation. It is much slower than the typed
// decoders, which accept exactly the same inputs.
type Validator struct {
	schemas map[Kind]*jsonschema.Schema
}

// NewValidator compiles the four embedded schemas.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	ids := make(map[Kind]string, 4)
	for _, k := range Kinds() {
		raw := Schema(k)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parse schema %s: %w", k.SchemaFile(), err)
		}
		obj, _ := doc.(map[string]any)
		id, _ := obj["$id"].(string)
		if id == "" {
			return nil, fmt.Errorf("schema %s: no $id", k.SchemaFile())
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", k.SchemaFile(), err)
		}
		ids[k] = id
	}
	v := &Validator{schemas: make(map[Kind]*jsonschema.Schema, 4)}
	for k, id := range ids {
		s, err := c.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", k.SchemaFile(), err)
		}
		v.schemas[k] = s
	}
	return v, nil
}

// noLoader refuses to load anything: the schemas are self-contained and the draft-07
// metaschema is built into the library.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schemas: refusing to load %s", url)
}

// Validate checks data, a raw event of kind k. The error is a *DecodeError naming the
// offending field (by JSON pointer) for invalid input; when several fields are wrong, the one
// reported is the first by JSON pointer and the reason says how many more there are.
func (v *Validator) Validate(k Kind, data []byte) error {
	s := v.schemas[k]
	if s == nil {
		return fmt.Errorf("unknown event kind %q", string(k))
	}
	doc, err := parseStrict(data)
	if err != nil {
		return err
	}
	if err := s.Validate(doc); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			return translate(k, doc, verr)
		}
		return &DecodeError{Reason: err.Error()}
	}
	return nil
}

// parseStrict parses data with encoding/json (numbers as json.Number) and applies the input
// policy: UTF-8, a single object, no duplicate keys in it, depth and number limits.
func parseStrict(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, &DecodeError{Reason: reasonNotUTF8}
	}
	if !json.Valid(data) {
		var x json.RawMessage
		err := json.Unmarshal(data, &x)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, &DecodeError{Reason: "invalid JSON: " + err.Error()}
	}
	if b := bytes.TrimLeft(data, " \t\r\n"); b[0] != '{' {
		return nil, &DecodeError{Reason: reasonNotObject}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := treeParser{dec: dec}
	doc, err := p.value(1, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &DecodeError{Reason: "invalid JSON: unexpected data after the top-level object"}
	}
	return doc, nil
}

type treeParser struct {
	dec *json.Decoder
}

// value reads one value whose container, if it is one, is at the given depth; ptr is its
// JSON pointer.
func (p *treeParser) value(depth int, ptr string) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, &DecodeError{Reason: "invalid JSON: " + err.Error()}
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth > MaxDepth {
			return nil, &DecodeError{Field: topField(ptr), Reason: reasonTooDeep}
		}
		if t == '[' {
			arr := []any{}
			for p.dec.More() {
				item, err := p.value(depth+1, ptr+"/"+strconv.Itoa(len(arr)))
				if err != nil {
					return nil, err
				}
				arr = append(arr, item)
			}
			_, err := p.dec.Token() // ']'
			return arr, err
		}
		obj := map[string]any{}
		for p.dec.More() {
			kt, err := p.dec.Token()
			if err != nil {
				return nil, &DecodeError{Reason: "invalid JSON: " + err.Error()}
			}
			key := kt.(string)
			kptr := ptr + "/" + escapePointer(key)
			if _, dup := obj[key]; dup && depth == 1 {
				return nil, &DecodeError{Field: kptr, Reason: reasonDuplicate}
			}
			val, err := p.value(depth+1, kptr)
			if err != nil {
				return nil, err
			}
			obj[key] = val
		}
		_, err := p.dec.Token() // '}'
		return obj, err
	case json.Number:
		if r := numberPolicy(string(t)); r != "" {
			return nil, &DecodeError{Field: topField(ptr), Reason: r}
		}
		return t, nil
	default: // string, bool, nil
		return t, nil
	}
}

// numberPolicy applies MaxNumberLen and MaxExponent to a number literal.
func numberPolicy(lit string) string {
	if len(lit) > MaxNumberLen {
		return reasonNumberLong
	}
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e := strings.TrimLeft(lit[i+1:], "+-")
		e = strings.TrimLeft(e, "0")
		if n, err := strconv.Atoi(e); len(e) > 4 || (err == nil && n > MaxExponent) {
			return reasonExponentBig
		}
	}
	return ""
}

// topField reduces a JSON pointer to its first token: policy errors name the top-level
// member (as the decoders do), not the exact spot inside it.
func topField(ptr string) string {
	if ptr == "" {
		return ""
	}
	if i := strings.IndexByte(ptr[1:], '/'); i >= 0 {
		return ptr[:i+1]
	}
	return ptr
}

func escapePointer(tok string) string {
	tok = strings.ReplaceAll(tok, "~", "~0")
	return strings.ReplaceAll(tok, "/", "~1")
}

// leaf is one elementary schema violation.
type leaf struct {
	field, reason string
}

// translate turns the validator's error tree into a short *DecodeError.
func translate(k Kind, doc any, verr *jsonschema.ValidationError) error {
	var leaves []leaf
	collect(k, doc, verr, &leaves)
	if len(leaves) == 0 {
		return &DecodeError{Reason: verr.Error()}
	}
	sort.SliceStable(leaves, func(i, j int) bool { return leaves[i].field < leaves[j].field })
	// Drop exact duplicates (the same problem reached through different keywords).
	uniq := leaves[:1]
	for _, l := range leaves[1:] {
		if l != uniq[len(uniq)-1] {
			uniq = append(uniq, l)
		}
	}
	e := &DecodeError{Field: uniq[0].field, Reason: uniq[0].reason}
	if n := len(uniq) - 1; n > 0 {
		e.Reason += fmt.Sprintf(" (and %d more error", n)
		if n > 1 {
			e.Reason += "s"
		}
		e.Reason += ")"
	}
	return e
}

func collect(k Kind, doc any, e *jsonschema.ValidationError, out *[]leaf) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(k, doc, c, out)
		}
		return
	}
	ptr := ""
	for _, tok := range e.InstanceLocation {
		ptr += "/" + escapePointer(tok)
	}
	switch ek := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range ek.Missing {
			*out = append(*out, leaf{ptr + "/" + escapePointer(m), reasonRequired})
		}
		return
	case *kind.FalseSchema:
		disc := "transaction_type"
		if k == KindStreamMeta {
			disc = "event_type"
		}
		// Only the if/then rules use false schemas: the member is not allowed with the
		// event's discriminator value.
		val, _ := doc.(map[string]any)[disc].(string)
		*out = append(*out, leaf{ptr, "not allowed for " + disc + " " + val})
		return
	}
	*out = append(*out, leaf{ptr, reason(e.ErrorKind)})
}

// reason phrases one error kind the way the decoders do.
func reason(ek jsonschema.ErrorKind) string {
	switch ek := ek.(type) {
	case *kind.Type:
		return "must be " + strings.Join(ek.Want, " or ") + ", got " + ek.Got
	case *kind.Enum:
		want := make([]string, len(ek.Want))
		for i, w := range ek.Want {
			want[i] = fmt.Sprint(w)
		}
		return "must be one of " + strings.Join(want, ", ")
	case *kind.Const:
		return fmt.Sprintf("must be %v", ek.Want)
	case *kind.Format:
		if ek.Want == "date-time" {
			return reasonTimestamp
		}
		return "must be a " + ek.Want
	case *kind.Pattern:
		if ek.Want == timestampPattern {
			return reasonTimestamp
		}
		if ek.Want == uuidPattern {
			return "must be a uuid"
		}
		return "must match " + ek.Want
	case *kind.Minimum:
		return "must be >= " + ratString(ek.Want)
	case *kind.Maximum:
		return "must be <= " + ratString(ek.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratString(ek.Want)
	case *kind.MinLength:
		return minLengthReason(ek.Want)
	case *kind.MaxLength:
		return "must be at most " + strconv.Itoa(ek.Want) + " characters"
	case *kind.MaxItems:
		return "must have at most " + strconv.Itoa(ek.Want) + " items"
	case *kind.MinItems:
		return "must have at least " + strconv.Itoa(ek.Want) + " items"
	case *kind.UniqueItems:
		return "items must be unique"
	}
	return "fails schema keyword " + strings.Join(ek.KeywordPath(), "/")
}

// ratString prints a schema bound as a decimal.
func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	for prec := 1; prec <= 12; prec++ {
		s := r.FloatString(prec)
		if x, ok := new(big.Rat).SetString(s); ok && x.Cmp(r) == 0 {
			return s
		}
	}
	return r.RatString()
}
