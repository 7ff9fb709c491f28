package sentiment

import (
	"math"
	"testing"
)

func TestAnalyze(t *testing.T) {
	for _, tc := range []struct {
		text  string
		class Class
		hits  int
	}{
		{"", Neutral, 0},
		{"hi chat", Neutral, 0},
		{"what game is this?", Neutral, 0},
		{"great play", Positive, 1},
		{"that was terrible", Negative, 1},
		{"not good", Negative, 1},
		{"not bad at all", Positive, 1},
		{"never boring", Positive, 1},
		{"not really that great", Negative, 1}, // negation reaches over an intensifier
		{"PogChamp", Positive, 1},
		{"BibleThump", Negative, 1},
		{"That was insane! PogChamp", Positive, 2},
		{"LUL", Positive, 1},
		{"lul", Neutral, 0}, // emotes are case-sensitive
		{"NotLikeThis NotLikeThis", Negative, 2},
		{"Kappa", Neutral, 0},
		{"LETS GOOO", Positive, 2},
		{"so goooood", Positive, 1},
		{"good but the lag is terrible", Negative, 3},
		{"ResidentSleeper so boring", Negative, 2},
		{"gg wp", Positive, 2},
		{"Ünïcödé wörds are fine, good", Positive, 1},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got := Analyze(tc.text)
			if got.Class != tc.class || got.Hits != tc.hits {
				t.Fatalf("Analyze(%q) = %+v, want class %v with %d hits", tc.text, got, tc.class, tc.hits)
			}
			if got.Compound < -1 || got.Compound > 1 || math.IsNaN(got.Compound) {
				t.Fatalf("compound %v out of [-1, 1]", got.Compound)
			}
		})
	}
}

func TestModifiersChangeStrength(t *testing.T) {
	for _, tc := range []struct{ stronger, weaker string }{
		{"really good", "good"},
		{"good!!", "good"},
		{"this is GOOD", "this is good"},
		{"very bad", "bad"}, // compared by magnitude
		{"bad", "not good"}, // a negated word is weaker than its opposite
	} {
		s, w := Analyze(tc.stronger).Compound, Analyze(tc.weaker).Compound
		if math.Abs(s) <= math.Abs(w) {
			t.Errorf("|%q| = %.3f should exceed |%q| = %.3f", tc.stronger, s, tc.weaker, w)
		}
	}
}

func TestExclamationsAreCapped(t *testing.T) {
	if a, b := Analyze("good!!!").Compound, Analyze("good!!!!!!!!").Compound; a != b {
		t.Fatalf("%v != %v: exclamations beyond %d should not add", a, b, maxExclaims)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		compound float64
		want     Class
	}{{0, Neutral}, {0.049, Neutral}, {0.05, Positive}, {-0.05, Negative}, {1, Positive}, {-1, Negative}} {
		if got := Classify(tc.compound); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.compound, got, tc.want)
		}
	}
}

func TestAnalyzeDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { Analyze("That was really insane!! PogChamp not bad") })
	if allocs > 0 {
		t.Fatalf("Analyze allocates %v times per call", allocs)
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add("not really that great!!! PogChamp")
	f.Add("\xff\xfe broken utf8 good")
	f.Fuzz(func(t *testing.T, s string) {
		got := Analyze(s)
		if got.Compound < -1 || got.Compound > 1 || math.IsNaN(got.Compound) || got.Hits < 0 {
			t.Fatalf("Analyze(%q) = %+v", s, got)
		}
		if Classify(got.Compound) != got.Class {
			t.Fatalf("class disagrees with compound: %+v", got)
		}
	})
}

func BenchmarkAnalyze(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Analyze("That was insane! PogChamp not bad at all")
	}
}
