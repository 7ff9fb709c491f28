package store

import (
	"testing"

	"github.com/telemetra/telemetra/internal/projection"
)

func TestARollupWithoutSQLIsAnError(t *testing.T) {
	chat := func(r projection.Rule) projection.Rollup {
		return projection.Rollup{Part: projection.PartChat, Rule: r}
	}
	for _, c := range []projection.Column{
		{Name: "title", Type: "text", Rollup: chat(projection.Collect)},
		{Name: "title", Type: "text", Rollup: chat(projection.Max)},
		{Name: "events", Type: "bigint", Rollup: chat(projection.Rule(99))},
	} {
		if sql, err := rollup(c); err == nil {
			t.Errorf("%s %s by rule %d: %s, want an error", c.Name, c.Type, c.Rollup.Rule, sql)
		}
	}
}
