package gateway

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// TestTheAlertPatternsAreTheHandlersRules: a value the document's pattern allows is taken by
// the handler (schemathesis sends such values and expects no 400), and one it refuses is
// refused by the handler too, where the value (not its JSON spelling) breaks the rule.
func TestTheAlertPatternsAreTheHandlersRules(t *testing.T) {
	urlRule := regexp.MustCompile(AlertURLPattern)
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://example.com", true}, {"http://127.0.0.1:8080/hook?a=b&c=%zz", true}, {"http://a", true},
		{"https://x.-/p/%41/@:;=,+*)('&$!~_.-", true}, {"http://host:99999/", true}, {"http://./?/?", true},
		{"https://example.com/%zz", false}, {"http://", false}, {"http://:80/", false}, {"http://a@b/", false},
		{"http://[::1]/", false}, {"https://example.com/#x", false}, {"HTTP://example.com/", false}, {"http://a b/", false},
		{"https://example.com/" + strings.Repeat("a", maxAlertURLBytes), false},
	} {
		matched := urlRule.MatchString(tc.url) && len(tc.url) <= maxAlertURLBytes
		err := checkAlertURL("url", tc.url)
		if matched != tc.want || (err == nil) != tc.want {
			t.Errorf("%.60q: pattern %v, handler %v; want accepted %v", tc.url, matched, err, tc.want)
		}
	}
	ttlRule := regexp.MustCompile(PreviousSecretTTLPattern)
	for _, tc := range []struct {
		json string
		want bool
	}{
		{"0s", true}, {"0.000000001s", true}, {"86400s", true}, {"599999.999999999s", true}, {"604799.5s", true},
		{"604800s", true}, {"604800.000s", true}, {"00001s", false}, {"01.5s", false},
		{"604800.000000001s", false}, {"604801s", false}, {"700000s", false}, {"-1s", false}, {"1000000s", false},
	} {
		var d durationpb.Duration
		if err := protojson.Unmarshal([]byte(`"`+tc.json+`"`), &d); err != nil {
			if tc.want || ttlRule.MatchString(tc.json) {
				t.Errorf("%s: the pattern takes what protojson refuses: %v", tc.json, err)
			}
			continue
		}
		_, err := previousSecretUntil(&pb.RotateAlertSecretRequest{PreviousSecretTtl: &d}, time.Now())
		if ttlRule.MatchString(tc.json) != tc.want || (err == nil) != tc.want {
			t.Errorf("%s: pattern %v, handler %v; want accepted %v", tc.json, ttlRule.MatchString(tc.json), err, tc.want)
		}
	}
}
