package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

// The fuzz targets check that the decoder of each kind accepts exactly what Validate accepts
// (and that neither panics), and that accepted inputs decode to what the JSON says. Run e.g.
//
//	go test -fuzz=FuzzDecodeChat -fuzztime=60s ./schemas/
//
// Inputs that once exposed a disagreement live in testdata/fuzz/<target>/ and run as
// regression tests with every go test.

func fuzzAgreement(f *testing.F, k Kind) {
	for _, s := range allSamples() {
		if s.kind == k {
			f.Add([]byte(s.data))
		}
	}
	v := newTestValidator(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		agree(t, v, k, data)
	})
}

func FuzzDecodeChat(f *testing.F)        { fuzzAgreement(f, KindChat) }
func FuzzDecodeViewer(f *testing.F)      { fuzzAgreement(f, KindViewer) }
func FuzzDecodeTransaction(f *testing.F) { fuzzAgreement(f, KindTransaction) }
func FuzzDecodeStreamMeta(f *testing.F)  { fuzzAgreement(f, KindStreamMeta) }

// FuzzFieldValue splices fuzzed raw JSON text in as the values of two members of a seed event,
// so that the fuzzer spends its time on value-level rules (numbers, timestamps, lengths,
// patterns, the if/then rules) rather than on JSON syntax.
func FuzzFieldValue(f *testing.F) {
	values := []string{
		`"demo_stream"`, `"2025-10-16T10:30:00Z"`, `"2016-12-31T23:59:60Z"`, `"2025-10-16t10:30:00.5+01:00"`,
		`1234`, `1.0`, `1e3`, `-0`, `0.01`, `4.99`, `100000`, `1e-2`, `12340E-1`, `"x"`, `""`, `null`, `[]`,
		`["PogChamp"]`, `["vip","subscriber"]`, `"#1E90FF"`, `"USD"`, `"\u00e9"`, `"\ud800"`, `3`, `true`, `{}`,
		`"123e4567-e89b-12d3-a456-426614174000"`, `"txn_a1b2c3d4e5f6g7h8"`, `"subscription"`, `"raid_incoming"`,
	}
	for i, k := range Kinds() {
		var fields []string
		switch k {
		case KindChat:
			fields = chatFields
		case KindViewer:
			fields = viewerFields
		case KindTransaction:
			fields = transactionFields
		case KindStreamMeta:
			fields = streamMetaFields
		}
		for j, fld := range fields {
			for n, val := range values {
				if (j+n)%5 == 0 {
					other := fields[(j+n)%len(fields)]
					f.Add(uint8(i), fld, val, other, values[(n+j)%len(values)])
				}
			}
		}
	}
	v := newTestValidator(f)
	f.Fuzz(func(t *testing.T, kind uint8, f1, v1, f2, v2 string) {
		k := Kinds()[int(kind)%4]
		agree(t, v, k, []byte(splice(seedOf(k), f1, v1, f2, v2)))
	})
}

// splice puts members with raw (possibly invalid) JSON values in front of base's members,
// replacing those of the same name.
func splice(base string, kv ...string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		panic(err)
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if _, dup := m[kv[i]]; !dup && i > 0 && kv[i] == kv[0] {
			continue
		}
		delete(m, kv[i])
		b.WriteString(q(kv[i]))
		b.WriteByte(':')
		b.WriteString(kv[i+1])
		b.WriteByte(',')
	}
	rest, _ := json.Marshal(m)
	b.Write(rest[1:])
	return b.String()
}
