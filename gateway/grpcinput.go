package gateway

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/telemetra/telemetra/gateway/openapi"
)

// requestCodec is the server's protobuf codec. It differs from grpc-go's in one case: a
// request whose string field is not valid UTF-8. proto.Unmarshal refuses the whole message,
// and grpc-go answers that as INTERNAL before any interceptor runs, unlogged. This codec sets
// such fields aside as unknown fields instead, and checkRequest, in the interceptors, answers
// INVALID_ARGUMENT naming the field. Only top-level fields are set aside: no request message
// nests a string.
type requestCodec struct{}

var _ encoding.Codec = requestCodec{}

func (requestCodec) Name() string { return "proto" }

func (requestCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal: %T is not a protobuf message", v)
	}
	return proto.Marshal(m)
}

func (requestCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal: %T is not a protobuf message", v)
	}
	err := proto.Unmarshal(data, m)
	if err == nil {
		return nil
	}
	clean, setAside, ok := setAsideInvalidStrings(data, m.ProtoReflect().Descriptor())
	if !ok || len(setAside) == 0 {
		return err
	}
	proto.Reset(m)
	if err := proto.Unmarshal(clean, m); err != nil {
		return err
	}
	r := m.ProtoReflect()
	r.SetUnknown(append(r.GetUnknown(), setAside...))
	return nil
}

// setAsideInvalidStrings splits a message's wire bytes into the records of string fields that
// are not valid UTF-8 and the rest.
func setAsideInvalidStrings(b []byte, md protoreflect.MessageDescriptor) (clean, setAside []byte, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, nil, false
		}
		record := b[:n+m]
		b = b[n+m:]
		if fd := md.Fields().ByNumber(num); fd != nil && fd.Kind() == protoreflect.StringKind && typ == protowire.BytesType {
			if v, _ := protowire.ConsumeBytes(record[n:]); !utf8.Valid(v) {
				setAside = append(setAside, record...)
				continue
			}
		}
		clean = append(clean, record...)
	}
	return clean, setAside, true
}

// checkRequest applies the rules every request meets before its handler runs: strings are
// valid UTF-8 (see requestCodec) and at most MaxFieldBytes long.
func checkRequest(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	for unknown := r.GetUnknown(); len(unknown) > 0; {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			break
		}
		size := protowire.ConsumeFieldValue(num, typ, unknown[n:])
		if size < 0 {
			break
		}
		if fd := fields.ByNumber(num); fd != nil && fd.Kind() == protoreflect.StringKind {
			v, _ := protowire.ConsumeBytes(unknown[n:])
			return invalid(string(fd.Name()), "not valid UTF-8: %s", openapi.ShortQuote(string(v)))
		}
		unknown = unknown[n+size:]
	}
	var err error
	r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.StringKind {
			return true
		}
		if !fd.IsList() {
			err = checkLength(string(fd.Name()), v.String())
			return err == nil
		}
		list := v.List()
		for i := range list.Len() {
			if err = checkLength(fmt.Sprintf("%s[%d]", fd.Name(), i), list.Get(i).String()); err != nil {
				return false
			}
		}
		return true
	})
	return err
}

func checkLength(field, s string) error {
	if len(s) > MaxFieldBytes {
		return invalid(field, "%s is %d bytes; at most %d", openapi.ShortQuote(s), len(s), MaxFieldBytes)
	}
	return nil
}
