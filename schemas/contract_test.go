package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"math/big"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests in this file tie the Go side of the input contract (the decoders' patterns,
// bounds, enums, field lists and if/then rules, and the json tags of the event types) to the
// JSON Schemas, keyword by keyword: a change to either side fails them until the other side
// follows. The agreement and fuzz tests check that the decoders behave like the schemas on
// inputs; these check that no rule was changed on one side only.

// goContract is every keyword the Go side implements for kind k, by JSON pointer into the
// kind's schema. The values are the Go constants the decoders use; where a rule is code rather
// than a constant (a $ref, a format), the comment names the code.
func goContract(t *testing.T, k Kind) map[string]any {
	t.Helper()
	c := map[string]any{
		"/type": "object",
		// the decoders check unknown members for syntax and the input policy, then ignore them
		"/additionalProperties": true,
		"/required":             requiredFields(k),
		// checkChannel
		"/definitions/channel/type":    "string",
		"/definitions/channel/pattern": channelPattern,
		// parseTimestamp
		"/definitions/timestamp/type":    "string",
		"/definitions/timestamp/format":  "date-time",
		"/definitions/timestamp/pattern": timestampPattern,
	}
	uuid := func() {
		// checkUUID
		c["/definitions/uuid/type"] = "string"
		c["/definitions/uuid/format"] = "uuid"
		c["/definitions/uuid/pattern"] = uuidPattern
	}
	// refs maps the fields checked by a shared definition to it; every other field's type
	// comes from its Go type.
	refs := map[string]string{"channel": "channel", "timestamp": "timestamp"}
	var own map[string]any
	switch k {
	case KindChat:
		uuid()
		refs["message_id"] = "uuid"
		own = map[string]any{
			"/properties/username/pattern":       usernamePattern,
			"/properties/message/minLength":      minMessageLen,
			"/properties/message/maxLength":      maxMessageLen,
			"/properties/emotes/maxItems":        maxEmotes,
			"/properties/emotes/items/minLength": minEmoteLen,
			"/properties/emotes/items/maxLength": maxEmoteLen,
			"/properties/sentiment_hint/enum":    allSentiments(),
			"/properties/user_id/minLength":      minUserIDLen,
			"/properties/user_id/maxLength":      maxUserIDLen,
			"/properties/badges/uniqueItems":     true, // decoder.badges
			"/properties/badges/items/enum":      allBadges(),
			"/properties/color/pattern":          colorPattern,
		}
	case KindViewer:
		uuid()
		refs["event_id"] = "uuid"
		own = map[string]any{
			"/properties/viewer_count/minimum":  minCount,
			"/properties/viewer_count/maximum":  maxCount,
			"/properties/chatter_count/minimum": minCount,
			"/properties/chatter_count/maximum": maxCount,
		}
	case KindTransaction:
		own = map[string]any{
			"/properties/transaction_id/pattern": txnIDPattern,
			"/properties/transaction_type/enum":  allTransactionTypes(),
			"/properties/amount/minimum":         0, // cents rejects every negative amount
			"/properties/amount/maximum":         new(big.Rat).SetFrac64(maxAmountCents, pow10(centDigits)),
			"/properties/amount/multipleOf":      big.NewRat(1, pow10(centDigits)),
			"/properties/username/pattern":       usernamePattern,
			"/properties/currency/pattern":       currencyPattern,
			"/properties/currency/default":       DefaultCurrency, // what DecodeTransaction fills in
			"/properties/tier/minimum":           minTier,
			"/properties/tier/maximum":           maxTier,
			"/properties/bits/minimum":           minBits,
			"/properties/bits/maximum":           maxBits,
			"/properties/gift_count/minimum":     minGiftCount,
			"/properties/gift_count/maximum":     maxGiftCount,
			"/properties/message/maxLength":      maxTxnMessageLen,
		}
	case KindStreamMeta:
		uuid()
		refs["event_id"] = "uuid"
		refs["raid_from"] = "channel"
		own = map[string]any{
			"/properties/event_type/enum":      allStreamEventTypes(),
			"/properties/title/maxLength":      maxTitleLen,
			"/properties/category/minLength":   minCategoryLen,
			"/properties/category/maxLength":   maxCategoryLen,
			"/properties/raid_viewers/minimum": minCount,
			"/properties/raid_viewers/maximum": maxCount,
		}
	}
	maps.Copy(c, own)
	for name, field := range jsonFields(eventType(k)) {
		if def, ok := refs[name]; ok {
			c["/properties/"+name+"/$ref"] = "#/definitions/" + def
			if typ := jsonType(t, field.Type); typ != c["/definitions/"+def+"/type"] {
				t.Errorf("%s.%s is encoded as a JSON %s, its definition %s is not", eventType(k).Name(), name, typ, def)
			}
			continue
		}
		c["/properties/"+name+"/type"] = jsonType(t, field.Type)
		if field.Type.Kind() == reflect.Slice {
			c["/properties/"+name+"/items/type"] = jsonType(t, field.Type.Elem())
		}
	}
	return c
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// requiredFields is the decoder's list of required fields of kind k.
func requiredFields(k Kind) []string {
	fields, n := decoderFields(k)
	return fields[:n]
}

// decoderFields is the decoder's field list of kind k and how many of them are required.
func decoderFields(k Kind) ([]string, int) {
	switch k {
	case KindChat:
		return chatFields, chatRequired
	case KindViewer:
		return viewerFields, viewerRequired
	case KindTransaction:
		return transactionFields, transactionRequired
	case KindStreamMeta:
		return streamMetaFields, streamMetaRequired
	}
	return nil, 0
}

func eventType(k Kind) reflect.Type {
	switch k {
	case KindChat:
		return reflect.TypeFor[ChatMessage]()
	case KindViewer:
		return reflect.TypeFor[ViewerCount]()
	case KindTransaction:
		return reflect.TypeFor[Transaction]()
	case KindStreamMeta:
		return reflect.TypeFor[StreamMeta]()
	}
	return nil
}

// jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	Type      reflect.Type
	OmitEmpty bool
}

// jsonFields are the fields of struct type typ by their json names.
func jsonFields(typ reflect.Type) map[string]jsonField {
	fields := map[string]jsonField{}
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = jsonField{Type: f.Type, OmitEmpty: slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return fields
}

// jsonType is the JSON Schema type a Go value of type typ is encoded as.
func jsonType(t *testing.T, typ reflect.Type) string {
	t.Helper()
	if typ == reflect.TypeFor[time.Time]() {
		return "string"
	}
	switch typ.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "array"
	}
	t.Fatalf("no JSON Schema type for Go type %s", typ)
	return ""
}

// schemaDoc parses the embedded schema of kind k, numbers as json.Number.
func schemaDoc(t *testing.T, k Kind) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(Schema(k)))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("parse %s: %v", k.SchemaFile(), err)
	}
	return doc
}

// Keywords that only annotate or that hold subschemas (walked into, not compared).
var (
	annotations = []string{"$schema", "$id", "title", "description", "examples"}
	subschemas  = []string{"properties", "definitions", "items"}
)

// schemaKeywords collects every constraint keyword of the schema node at ptr, by JSON pointer.
// allOf is left to TestContractConditionalRules.
func schemaKeywords(t *testing.T, node map[string]any, ptr string, out map[string]any) {
	t.Helper()
	for key, v := range node {
		p := ptr + "/" + key
		switch {
		case slices.Contains(annotations, key), key == "allOf" && ptr == "":
		case slices.Contains(subschemas, key):
			if key == "items" {
				schemaKeywords(t, asObject(t, p, v), p, out)
				continue
			}
			for name, sub := range asObject(t, p, v) {
				schemaKeywords(t, asObject(t, p+"/"+name, sub), p+"/"+name, out)
			}
		default:
			out[p] = v
		}
	}
}

func asObject(t *testing.T, ptr string, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want a schema object, got %v", ptr, v)
	}
	return m
}

// canonical renders a keyword value for comparison: numbers exactly, lists as sorted sets.
func canonical(t *testing.T, v any) string {
	t.Helper()
	switch x := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			t.Fatalf("bad number %s", x)
		}
		return "number " + r.RatString()
	case *big.Rat:
		return "number " + x.RatString()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int64:
		return "number " + strconv.FormatInt(rv.Int(), 10)
	case reflect.String:
		return strconv.Quote(rv.String())
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Slice, reflect.Array:
		items := make([]string, rv.Len())
		for i := range items {
			items[i] = canonical(t, rv.Index(i).Interface())
		}
		slices.Sort(items)
		return "{" + strings.Join(items, ", ") + "}"
	}
	t.Fatalf("cannot compare %T %v", v, v)
	return ""
}

// TestContractKeywords compares every constraint keyword of each schema with the Go rule that
// implements it, both ways: a keyword without a Go rule, a Go rule without a keyword and a
// different value all fail.
func TestContractKeywords(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(string(k), func(t *testing.T) {
			inSchema := map[string]any{}
			schemaKeywords(t, schemaDoc(t, k), "", inSchema)
			inGo := goContract(t, k)
			for _, p := range slices.Sorted(mapKeys(inSchema, inGo)) {
				s, sok := inSchema[p]
				g, gok := inGo[p]
				switch {
				case !gok:
					t.Errorf("%s %s = %v: no Go rule implements it", k.SchemaFile(), p, s)
				case !sok:
					t.Errorf("%s %s: the Go side has %v, the schema has no such keyword", k.SchemaFile(), p, g)
				case canonical(t, s) != canonical(t, g):
					t.Errorf("%s %s: schema %s, Go %s", k.SchemaFile(), p, canonical(t, s), canonical(t, g))
				}
			}
		})
	}
}

func mapKeys(maps ...map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range maps {
			for key := range m {
				if !seen[key] && !yield(key) {
					return
				}
				seen[key] = true
			}
		}
	}
}

// TestContractFields checks that each schema's properties are the json fields of its Go type
// and the fields its decoder knows, and that its required fields are exactly the Go type's
// fields without omitempty (so encoding/json writes every required field, and a decoded event
// marshals back to a valid one).
func TestContractFields(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(string(k), func(t *testing.T) {
			doc := schemaDoc(t, k)
			properties := slices.Sorted(func(yield func(string) bool) {
				for name := range asObject(t, "/properties", doc["properties"]) {
					if !yield(name) {
						return
					}
				}
			})
			fields := jsonFields(eventType(k))
			var tags, notOmitted []string
			for name, f := range fields {
				tags = append(tags, name)
				if !f.OmitEmpty {
					notOmitted = append(notOmitted, name)
				}
			}
			decoded, _ := decoderFields(k)
			var required []string
			for _, r := range doc["required"].([]any) {
				required = append(required, r.(string))
			}
			for _, c := range []struct {
				what       string
				got, other []string
			}{
				{"json fields of " + eventType(k).Name(), tags, properties},
				{"decoder fields", decoded, properties},
				{"json fields without omitempty", notOmitted, required},
			} {
				got, want := slices.Sorted(slices.Values(c.got)), slices.Sorted(slices.Values(c.other))
				if !slices.Equal(got, want) {
					t.Errorf("%s %v, schema %v", c.what, got, want)
				}
			}
		})
	}
}

// TestContractEnumConstants checks that the constants declared for each enum type are exactly
// the schema's enum, so a value added on one side only fails. (TestContractKeywords checks the
// lists the decoders accept.)
func TestContractEnumConstants(t *testing.T) {
	declared := constantsByType(t)
	for _, c := range []struct {
		typ  string
		kind Kind
		ptr  string
	}{
		{"Sentiment", KindChat, "/properties/sentiment_hint/enum"},
		{"Badge", KindChat, "/properties/badges/items/enum"},
		{"TransactionType", KindTransaction, "/properties/transaction_type/enum"},
		{"StreamEventType", KindStreamMeta, "/properties/event_type/enum"},
	} {
		keywords := map[string]any{}
		schemaKeywords(t, schemaDoc(t, c.kind), "", keywords)
		enum, ok := keywords[c.ptr]
		if !ok {
			t.Errorf("%s has no %s", c.kind.SchemaFile(), c.ptr)
			continue
		}
		if got, want := canonical(t, declared[c.typ]), canonical(t, enum); got != want {
			t.Errorf("constants of type %s are %s, %s %s is %s", c.typ, got, c.kind.SchemaFile(), c.ptr, want)
		}
	}
}

// constantsByType reads the package's source for string constants declared with a type.
func constantsByType(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				if !ok {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: constant of type %s is not a string literal", fset.Position(v.Pos()), typ.Name)
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[typ.Name] = append(out[typ.Name], s)
				}
			}
		}
	}
	return out
}

// TestContractConditionalRules checks the schemas' allOf if/then rules (which type-specific
// fields each transaction_type or event_type forbids) against the decoders' rules, for every
// value of the type field and every field. It understands the one shape of rule the schemas
// use and fails on any other, so a new kind of rule cannot go unchecked.
func TestContractConditionalRules(t *testing.T) {
	for _, c := range []struct {
		kind      Kind
		typeField string
		values    []string
		forbidden func(typeValue string) uint16
	}{
		{KindTransaction, "transaction_type", enumStrings(allTransactionTypes()),
			func(v string) uint16 { return transactionForbidden(TransactionType(v)) }},
		{KindStreamMeta, "event_type", enumStrings(allStreamEventTypes()),
			func(v string) uint16 { return streamMetaForbidden(StreamEventType(v)) }},
		{KindChat, "", nil, nil},
		{KindViewer, "", nil, nil},
	} {
		t.Run(string(c.kind), func(t *testing.T) {
			doc := schemaDoc(t, c.kind)
			inSchema := map[string]map[string]bool{} // type value -> forbidden fields
			rules, _ := doc["allOf"].([]any)
			if c.typeField == "" {
				if doc["allOf"] != nil {
					t.Fatalf("%s has allOf rules the decoder does not implement", c.kind.SchemaFile())
				}
				return
			}
			for i, rule := range rules {
				ptr := fmt.Sprintf("/allOf/%d", i)
				r := asObject(t, ptr, rule)
				if len(r) != 2 || r["if"] == nil || r["then"] == nil {
					t.Fatalf("%s %s: only {if, then} rules are understood, got %v", c.kind.SchemaFile(), ptr, r)
				}
				applies := ruleValues(t, c.kind, ptr+"/if", asObject(t, ptr+"/if", r["if"]), c.typeField)
				then := asObject(t, ptr+"/then", r["then"])
				props := asObject(t, ptr+"/then/properties", then["properties"])
				if len(then) != 1 {
					t.Fatalf("%s %s/then: only {properties: {field: false}} is understood, got %v", c.kind.SchemaFile(), ptr, then)
				}
				for _, v := range applies {
					for field, sub := range props {
						if sub != false {
							t.Fatalf("%s %s/then/properties/%s: only false is understood, got %v", c.kind.SchemaFile(), ptr, field, sub)
						}
						if inSchema[v] == nil {
							inSchema[v] = map[string]bool{}
						}
						inSchema[v][field] = true
					}
				}
			}
			fields, _ := decoderFields(c.kind)
			for _, v := range c.values {
				mask := c.forbidden(v)
				for i, field := range fields {
					if inGo := mask&(1<<i) != 0; inGo != inSchema[v][field] {
						t.Errorf("%s %s: schema forbids %s: %v, decoder: %v", c.typeField, v, field, inSchema[v][field], inGo)
					}
				}
			}
		})
	}
}

// ruleValues reads an if of the form {"properties": {typeField: {"const": v}}} or with
// {"enum": [v...]}, and returns the values it applies to.
func ruleValues(t *testing.T, k Kind, ptr string, cond map[string]any, typeField string) []string {
	t.Helper()
	props := asObject(t, ptr+"/properties", cond["properties"])
	if len(cond) != 1 || len(props) != 1 || props[typeField] == nil {
		t.Fatalf("%s %s: only a condition on %s is understood, got %v", k.SchemaFile(), ptr, typeField, cond)
	}
	on := asObject(t, ptr+"/properties/"+typeField, props[typeField])
	if len(on) != 1 {
		t.Fatalf("%s %s: only const or enum is understood, got %v", k.SchemaFile(), ptr, on)
	}
	if v, ok := on["const"].(string); ok {
		return []string{v}
	}
	values, ok := on["enum"].([]any)
	if !ok {
		t.Fatalf("%s %s: only const or enum is understood, got %v", k.SchemaFile(), ptr, on)
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v.(string)
	}
	return out
}

func enumStrings[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}
