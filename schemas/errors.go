package schemas

// Input policy shared by the Validator and the decoders, on top of the JSON Schemas. These
// limits keep both paths cheap and predictable on hostile input; real events are far inside
// them.
const (
	// MaxDepth is the deepest nesting of objects and arrays accepted; the event object itself
	// is at depth 1, so an unknown field may hold up to MaxDepth-1 levels of nesting.
	MaxDepth = 32
	// MaxNumberLen is the longest number literal accepted, in bytes, anywhere in the input.
	MaxNumberLen = 64
	// MaxExponent is the largest absolute value of a number literal's exponent (the part after
	// e or E) accepted, anywhere in the input.
	MaxExponent = 1000
)

// DecodeError describes why an input was rejected, by the decoders and by Validator.Validate.
type DecodeError struct {
	// Field is the JSON pointer (RFC 6901) of the offending value, such as "/timestamp" or
	// "/emotes/2"; for a missing required field it points where the field should be. It is ""
	// when the problem is the input as a whole (not UTF-8, not JSON, not an object).
	Field string
	// Reason says what is wrong, in a few words.
	Reason string
}

// Error returns "Field: Reason", or Reason alone when Field is empty.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func fieldErr(field, reason string) error {
	return &DecodeError{Field: field, Reason: reason}
}

// Reasons shared by both paths, so that their messages read the same.
const (
	reasonNotUTF8     = "input is not valid UTF-8"
	reasonNotObject   = "must be a JSON object"
	reasonDuplicate   = "duplicate key"
	reasonTooDeep     = "nested too deeply"
	reasonNumberLong  = "number literal too long"
	reasonExponentBig = "number exponent too large"
	reasonRequired    = "required field missing"
)

const reasonTimestamp = "must be an RFC 3339 date-time like 2025-10-16T10:30:00Z"
