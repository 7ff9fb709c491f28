package schemas

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the small JSON scanner under the typed decoders. It is strict RFC 8259
// (what encoding/json.Valid accepts) plus the input policy in errors.go, and it decodes string
// escapes exactly like encoding/json (invalid surrogate escapes become U+FFFD).

// span locates a JSON string's raw content (between the quotes) in the input.
type span struct {
	off, end int
	esc      bool // contains backslash escapes
}

type decoder struct {
	data    []byte
	pos     int
	first   bool                // no member read yet in the top-level object
	scratch []byte              // unescaped key or string value, reused (allocated on first escape)
	unknown []string            // unknown top-level keys seen so far (duplicate check)
	many    map[string]struct{} // the same, once there are many of them
}

func syntaxErr(pos int, what string) error {
	return &DecodeError{Reason: "invalid JSON at byte " + strconv.Itoa(pos) + ": " + what}
}

func (d *decoder) unexpected() error {
	if d.pos >= len(d.data) {
		return syntaxErr(d.pos, "unexpected end of input")
	}
	return syntaxErr(d.pos, "unexpected "+quoteByte(d.data[d.pos]))
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// begin checks the input policy that needs the whole input and consumes the '{'.
func (d *decoder) begin(data []byte) error {
	d.data = data
	if !utf8.Valid(data) {
		return &DecodeError{Reason: reasonNotUTF8}
	}
	d.ws()
	if d.pos >= len(data) {
		return d.unexpected()
	}
	if data[d.pos] != '{' {
		if validJSONStart(data[d.pos]) {
			return &DecodeError{Reason: reasonNotObject}
		}
		return d.unexpected()
	}
	d.pos++
	d.first = true
	return nil
}

func validJSONStart(c byte) bool {
	switch c {
	case '[', '"', 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

// next reads the next member name of the top-level object and the ':' after it. done is true
// when the object has ended. The returned key is valid until the next call that unescapes.
func (d *decoder) next() (key []byte, done bool, err error) {
	d.ws()
	if d.pos >= len(d.data) {
		return nil, false, d.unexpected()
	}
	c := d.data[d.pos]
	if d.first {
		d.first = false
		if c == '}' {
			d.pos++
			return nil, true, nil
		}
	} else {
		if c == '}' {
			d.pos++
			return nil, true, nil
		}
		if c != ',' {
			return nil, false, d.unexpected()
		}
		d.pos++
		d.ws()
	}
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, false, d.unexpected()
	}
	sp, err := d.scanString()
	if err != nil {
		return nil, false, err
	}
	key = d.content(sp)
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return nil, false, d.unexpected()
	}
	d.pos++
	d.ws()
	return key, false, nil
}

// finish checks that only whitespace follows the top-level object.
func (d *decoder) finish() error {
	d.ws()
	if d.pos != len(d.data) {
		return syntaxErr(d.pos, "unexpected data after the top-level object")
	}
	return nil
}

// unknownKey records an unknown top-level key, rejecting a duplicate, and skips its value.
func (d *decoder) unknownKey(key []byte) error {
	if d.many != nil {
		if _, dup := d.many[string(key)]; dup {
			return fieldErr(pointer(string(key)), reasonDuplicate)
		}
	} else {
		for _, k := range d.unknown {
			if k == string(key) {
				return fieldErr(pointer(k), reasonDuplicate)
			}
		}
	}
	k := string(key)
	if d.many == nil && len(d.unknown) < 16 {
		d.unknown = append(d.unknown, k)
	} else {
		if d.many == nil {
			d.many = make(map[string]struct{}, 64)
			for _, u := range d.unknown {
				d.many[u] = struct{}{}
			}
		}
		d.many[k] = struct{}{}
	}
	return d.skipValue(2, k)
}

// pointer returns the JSON pointer of a top-level member.
func pointer(key string) string {
	if strings.ContainsAny(key, "~/") {
		key = strings.ReplaceAll(key, "~", "~0")
		key = strings.ReplaceAll(key, "/", "~1")
	}
	return "/" + key
}

// scanString scans the JSON string at d.pos (which holds '"') and returns its content span.
func (d *decoder) scanString() (span, error) {
	data := d.data
	start := d.pos + 1
	esc := false
	i := start
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return span{off: start, end: i, esc: esc}, nil
		case c == '\\':
			esc = true
			if i+1 >= len(data) {
				return span{}, syntaxErr(len(data), "unexpected end of input")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) || hex4(data[i+2:i+6]) < 0 {
					return span{}, syntaxErr(i, `invalid \u escape`)
				}
				i += 6
			default:
				return span{}, syntaxErr(i, "invalid escape in string")
			}
		case c < 0x20:
			return span{}, syntaxErr(i, "control character in string")
		default:
			i++
		}
	}
	return span{}, syntaxErr(len(data), "unexpected end of input")
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// content returns the string's decoded bytes: the input itself when there are no escapes,
// otherwise d.scratch (valid until the next call).
func (d *decoder) content(sp span) []byte {
	raw := d.data[sp.off:sp.end]
	if !sp.esc {
		return raw
	}
	d.scratch = appendUnescaped(d.scratch[:0], raw)
	return d.scratch
}

// appendUnescaped decodes the escapes of a scanned (hence well-formed) string's content the
// way encoding/json does: a \u escape of a surrogate that does not form a valid pair with an
// immediately following \u escape becomes U+FFFD.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'u':
			r := hex4(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2 = hex4(raw[i+2 : i+6])
				}
				if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
					dst = utf8.AppendRune(dst, dec)
					i += 6
					continue
				}
				r = unicode.ReplacementChar
			}
			dst = utf8.AppendRune(dst, r)
			continue
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default: // '"', '\\', '/'
			c = raw[i+1]
		}
		dst = append(dst, c)
		i += 2
	}
	return dst
}

// typeName names the JSON type of the value starting at d.pos (for type errors).
func (d *decoder) typeName() string {
	if d.pos >= len(d.data) {
		return "nothing"
	}
	switch c := d.data[d.pos]; c {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return "number"
		}
		return "invalid JSON"
	}
}

func (d *decoder) typeErr(field, want string) error {
	got := d.typeName()
	if got == "invalid JSON" || got == "nothing" {
		return d.unexpected()
	}
	return fieldErr(field, "must be "+want+", got "+got)
}

// str scans a string value, reporting a type error for anything else.
func (d *decoder) str(field string) (span, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return span{}, d.typeErr(field, "string")
	}
	return d.scanString()
}

// number scans a number literal at d.pos, applying the number policy.
func (d *decoder) number(field string) ([]byte, error) {
	data := d.data
	start := d.pos
	i := start
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return nil, syntaxErr(i, "unexpected end of input")
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return nil, syntaxErr(i, "invalid number")
	}
	if i < len(data) && data[i] == '.' {
		i++
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == j {
			return nil, syntaxErr(i, "invalid number")
		}
	}
	exp := 0
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			if exp <= MaxExponent {
				exp = exp*10 + int(data[i]-'0')
			}
			i++
		}
		if i == j {
			return nil, syntaxErr(i, "invalid number")
		}
	}
	d.pos = i
	if i-start > MaxNumberLen {
		return nil, fieldErr(field, reasonNumberLong)
	}
	if exp > MaxExponent {
		return nil, fieldErr(field, reasonExponentBig)
	}
	return data[start:i], nil
}

// literal consumes the literal word (true, false or null) at d.pos.
func (d *decoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return syntaxErr(d.pos, "invalid literal")
	}
	d.pos += len(word)
	return nil
}

// skipValue checks and skips any JSON value at d.pos; depth is the nesting depth a container
// starting here would have. field names the top-level member for policy errors.
func (d *decoder) skipValue(depth int, field string) error {
	if d.pos >= len(d.data) {
		return d.unexpected()
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		_, err := d.scanString()
		return err
	case c == '{' || c == '[':
		if depth > MaxDepth {
			return fieldErr(pointer(field), reasonTooDeep)
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		d.pos++
		d.ws()
		if d.pos < len(d.data) && d.data[d.pos] == end {
			d.pos++
			return nil
		}
		for {
			if c == '{' {
				if d.pos >= len(d.data) || d.data[d.pos] != '"' {
					return d.unexpected()
				}
				if _, err := d.scanString(); err != nil {
					return err
				}
				d.ws()
				if d.pos >= len(d.data) || d.data[d.pos] != ':' {
					return d.unexpected()
				}
				d.pos++
				d.ws()
			}
			if err := d.skipValue(depth+1, field); err != nil {
				return err
			}
			d.ws()
			if d.pos >= len(d.data) {
				return d.unexpected()
			}
			switch d.data[d.pos] {
			case ',':
				d.pos++
				d.ws()
			case end:
				d.pos++
				return nil
			default:
				return d.unexpected()
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.number(pointer(field))
		return err
	default:
		return d.unexpected()
	}
}

// arrayStart consumes the '[' of an array value (type error for anything else) and reports
// whether the array is empty (then the ']' is consumed too).
func (d *decoder) arrayStart(field string) (empty bool, err error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '[' {
		return false, d.typeErr(field, "array")
	}
	d.pos++
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return true, nil
	}
	return false, nil
}

// arrayNext consumes the ',' or ']' after an array element and reports whether it was ']'.
func (d *decoder) arrayNext() (end bool, err error) {
	d.ws()
	if d.pos >= len(d.data) {
		return false, d.unexpected()
	}
	switch d.data[d.pos] {
	case ',':
		d.pos++
		d.ws()
		return false, nil
	case ']':
		d.pos++
		return true, nil
	}
	return false, d.unexpected()
}

// builder collects the decoded strings of one event into a single allocation.
type builder struct {
	b strings.Builder
}

// size returns an upper bound of the decoded length of spans (escapes only shrink).
func size(spans ...span) int {
	n := 0
	for _, s := range spans {
		n += s.end - s.off
	}
	return n
}

// add appends the decoded string of sp and returns its [start, end) in the builder.
func (d *decoder) add(b *builder, sp span) [2]int {
	start := b.b.Len()
	if sp.end > sp.off {
		b.b.Write(d.content(sp))
	}
	return [2]int{start, b.b.Len()}
}
