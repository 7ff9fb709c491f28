package sentiment_test

import (
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/sentiment"
	"github.com/telemetra/telemetra/producer"
	"github.com/telemetra/telemetra/schemas"
)

// TestAgreesWithTheProducersHints scores the mock producer's chat and compares with the
// sentiment hint it attached: the hint is the producer's intent, not the answer, so this checks
// broad agreement per class, not equality.
func TestAgreesWithTheProducersHints(t *testing.T) {
	g, err := producer.NewGenerator(producer.Config{Channels: []string{"demo_stream", "gaming"}, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)
	total := map[schemas.Sentiment]int{}
	agree := map[schemas.Sentiment]int{}
	for k := range 50_000 {
		r := g.Next(start.Add(time.Duration(k) * 100 * time.Millisecond))
		if r.Topic != kafka.TopicChat {
			continue
		}
		m, err := schemas.DecodeChat(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		class := sentiment.Analyze(m.Message).Class
		want := sentiment.Neutral
		switch m.SentimentHint {
		case "positive", "excited":
			want = sentiment.Positive
		case "negative":
			want = sentiment.Negative
		}
		total[m.SentimentHint]++
		if class == want {
			agree[m.SentimentHint]++
		}
	}
	for hint, min := range map[schemas.Sentiment]float64{
		"positive": 0.85, "excited": 0.75, "negative": 0.85, "neutral": 0.85, "question": 0.80,
	} {
		rate := float64(agree[hint]) / float64(total[hint])
		t.Logf("%-8s %5d messages, %.1f%% agree", hint, total[hint], 100*rate)
		if total[hint] < 1000 || rate < min {
			t.Errorf("%s: %.1f%% agreement over %d messages, want at least %.0f%%", hint, 100*rate, total[hint], 100*min)
		}
	}
}
