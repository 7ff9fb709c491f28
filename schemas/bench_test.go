package schemas

import (
	"encoding/json"
	"testing"
)

// Benchmarks on the seed's example events. Compare the typed decoders with Validate and with
// plain encoding/json (which checks nothing):
//
//	go test -run '^$' -bench . -benchmem ./schemas/

func benchDecode[T any](b *testing.B, data string, decode func([]byte) (T, error)) {
	in := []byte(data)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeChat(b *testing.B)        { benchDecode(b, seedChat, DecodeChat) }
func BenchmarkDecodeViewer(b *testing.B)      { benchDecode(b, seedViewer, DecodeViewer) }
func BenchmarkDecodeTransaction(b *testing.B) { benchDecode(b, seedTransaction, DecodeTransaction) }
func BenchmarkDecodeStreamMeta(b *testing.B)  { benchDecode(b, seedStreamMeta, DecodeStreamMeta) }

// BenchmarkDecodeChatFull decodes a chat message with every optional field and 5 emotes.
func BenchmarkDecodeChatFull(b *testing.B) {
	benchDecode(b, mod(seedChat, "user_id", `"48151623"`, "badges", `["subscriber","vip"]`, "color", `"#1E90FF"`,
		"emotes", `["PogChamp","Kappa","LUL","PogChamp","KEKW"]`), DecodeChat)
}

func BenchmarkDecodeGenericChat(b *testing.B) {
	benchDecode(b, seedChat, func(data []byte) (Event, error) { return Decode(KindChat, data) })
}

func benchValidate(b *testing.B, k Kind, data string) {
	v := newTestValidator(b)
	in := []byte(data)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(k, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateChat(b *testing.B)        { benchValidate(b, KindChat, seedChat) }
func BenchmarkValidateViewer(b *testing.B)      { benchValidate(b, KindViewer, seedViewer) }
func BenchmarkValidateTransaction(b *testing.B) { benchValidate(b, KindTransaction, seedTransaction) }
func BenchmarkValidateStreamMeta(b *testing.B)  { benchValidate(b, KindStreamMeta, seedStreamMeta) }

// BenchmarkStdlibUnmarshalChat is encoding/json.Unmarshal into ChatMessage, for reference: it
// checks nothing the schema says.
func BenchmarkStdlibUnmarshalChat(b *testing.B) {
	benchDecode(b, seedChat, func(data []byte) (ChatMessage, error) {
		var m ChatMessage
		err := json.Unmarshal(data, &m)
		return m, err
	})
}

// BenchmarkDecodeChatInvalid measures rejecting a bad chat message (wrong channel).
func BenchmarkDecodeChatInvalid(b *testing.B) {
	in := []byte(mod(seedChat, "channel", `"Bad Channel"`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeChat(in); err == nil {
			b.Fatal("accepted")
		}
	}
}
