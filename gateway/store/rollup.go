package store

import (
	"fmt"
	"strings"

	"github.com/telemetra/telemetra/internal/projection"
)

// rollups are the aggregates that merge the window_aggregates columns of part over a group of
// rows (alias w), in the table's order (projection.WindowAggregates): each column's Rollup rule
// as SQL. The definition is constant, so a rule without SQL is a mistake in this package: it
// panics when the package loads, and any of its tests finds it.
func rollups(part projection.Part) string {
	var exprs []string
	for _, c := range projection.WindowAggregates().Merged(part) {
		e, err := rollup(c)
		if err != nil {
			panic(fmt.Sprintf("store: roll-up of window_aggregates.%s: %v", c.Name, err))
		}
		exprs = append(exprs, e)
	}
	return "\n    " + strings.Join(exprs, ",\n    ")
}

// sampled keeps the windows with viewer samples: the others' viewer zeros are no readings.
const sampled = ` FILTER (WHERE w.viewer_samples > 0)`

func rollup(c projection.Column) (string, error) {
	col := "w." + c.Name
	switch c.Rollup.Rule {
	case projection.Sum:
		// sum of a bigint is numeric: back to the column's type
		return `coalesce(sum(` + col + `), 0)::` + c.Type, nil
	case projection.MaxAndSum:
		return `coalesce(max(` + col + `), 0),
    coalesce(sum(` + col + `), 0)::` + c.Type, nil
	case projection.Collect:
		switch c.Type {
		case "bytea":
			return `array_agg(` + col + `) FILTER (WHERE octet_length(` + col + `) > 0)`, nil
		case "jsonb":
			return `coalesce(jsonb_agg(` + col + `) FILTER (WHERE ` + col + ` <> '[]'::jsonb), '[]'::jsonb)`, nil
		}
		return "", fmt.Errorf("cannot collect values of type %s", c.Type)
	}
	zero, err := zeroOf(c.Type)
	if err != nil {
		return "", err
	}
	latest := `array_agg(` + col + ` ORDER BY w.window_start DESC)`
	switch c.Rollup.Rule {
	case projection.Max:
		return `coalesce(max(` + col + `), ` + zero + `)`, nil
	case projection.All:
		return `coalesce(bool_and(` + col + `), ` + zero + `)`, nil
	case projection.Latest:
		return `coalesce((` + latest + `)[1], ` + zero + `)`, nil
	case projection.MinSampled:
		return `coalesce(min(` + col + `)` + sampled + `, ` + zero + `)`, nil
	case projection.MaxSampled:
		return `coalesce(max(` + col + `)` + sampled + `, ` + zero + `)`, nil
	case projection.LatestSampled:
		return `coalesce((` + latest + sampled + `)[1], ` + zero + `)`, nil
	}
	return "", fmt.Errorf("no SQL for rule %d", c.Rollup.Rule)
}

// zeroOf is what a bucket reports for a column when no window has a value.
func zeroOf(sqlType string) (string, error) {
	switch sqlType {
	case "boolean":
		return "false", nil
	case "bigint", "integer", "double precision":
		return "0", nil
	}
	return "", fmt.Errorf("no zero value for type %s", sqlType)
}
