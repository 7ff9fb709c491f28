package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/internal/projection"
)

// ignored are the columns of t that a comparison leaves out, as the tables' definition
// (internal/projection) marks them: the stamps, which say when a row was written, not what it
// holds; across generations also the columns of the emitting generation (emission times,
// versions counted separately). Across generations, Compare skips the tables of one generation
// (offsets in its topics) altogether.
func ignored(t projection.Table, acrossGenerations bool) []string {
	out := []string{} // an empty text[], not NULL, for the query
	for _, c := range t.Columns {
		if c.Stamp || (acrossGenerations && c.OfGeneration) {
			out = append(out, c.Name)
		}
	}
	return out
}

// CompareOptions tune Compare.
type CompareOptions struct {
	// AcrossGenerations ignores emission times, versions and offsets: the projections were built
	// from different processor generations.
	AcrossGenerations bool
	// MaxRows is the most differing rows kept in the report (all are counted); 0 means 100.
	MaxRows int
}

// Difference is one row that differs between the live and the rebuilt projection.
type Difference struct {
	Table string
	Key   string // column=value pairs of the primary key
	// Kind is "only_live", "only_rebuilt" or "changed".
	Kind    string
	Columns []ColumnDifference // for "changed"
}

// ColumnDifference is one column's values on both sides, as JSON.
type ColumnDifference struct {
	Column, Live, Rebuilt string
}

func (d Difference) String() string {
	switch d.Kind {
	case "only_live":
		return fmt.Sprintf("%s %s: only in the live projection", d.Table, d.Key)
	case "only_rebuilt":
		return fmt.Sprintf("%s %s: only in the rebuilt projection", d.Table, d.Key)
	}
	parts := make([]string, len(d.Columns))
	for k, c := range d.Columns {
		parts[k] = fmt.Sprintf("%s live=%s rebuilt=%s", c.Column, c.Live, c.Rebuilt)
	}
	return fmt.Sprintf("%s %s: %s", d.Table, d.Key, strings.Join(parts, ", "))
}

// Diff is the result of comparing two projections.
type Diff struct {
	Rows    map[string]int // table → rows compared (the union of both sides' keys)
	Differ  map[string]int // table → rows that differ
	Total   int            // rows that differ, in all tables
	Samples []Difference   // the first MaxRows differing rows, table by table in key order
}

// Identical reports whether no row differs.
func (d Diff) Identical() bool { return d.Total == 0 }

// Querier is what Compare reads through: a connection, a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Compare reads both projections row by row and reports every row that is missing on one side
// or differs in a column that is not left out (see ignored).
func Compare(ctx context.Context, q Querier, live, rebuilt string, opts CompareOptions) (Diff, error) {
	if opts.MaxRows <= 0 {
		opts.MaxRows = 100
	}
	d := Diff{Rows: map[string]int{}, Differ: map[string]int{}}
	for _, t := range projection.Tables() {
		if opts.AcrossGenerations && t.OfGeneration {
			continue
		}
		if err := compareTable(ctx, q, live, rebuilt, t, ignored(t, opts.AcrossGenerations), opts.MaxRows, &d); err != nil {
			return d, fmt.Errorf("compare %s: %w", t.Name, err)
		}
	}
	return d, nil
}

func compareTable(ctx context.Context, q Querier, live, rebuilt string, t projection.Table, ignore []string, maxRows int, d *Diff) error {
	side := func(schema string) string {
		return fmt.Sprintf("SELECT jsonb_build_array(%s) AS k, to_jsonb(t) - $1::text[] AS j FROM %s t",
			strings.Join(t.Key, ", "), pgx.Identifier{schema, t.Name}.Sanitize())
	}
	// the jsonb keys sort like the key columns for the text and timestamp keys used here
	sql := fmt.Sprintf(`SELECT a.k IS NULL, b.k IS NULL, coalesce(a.k, b.k), a.j, b.j, a.j IS DISTINCT FROM b.j
		FROM (%s) a FULL JOIN (%s) b ON a.k = b.k ORDER BY coalesce(a.k, b.k)`, side(live), side(rebuilt))
	rows, err := q.Query(ctx, sql, ignore)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var noLive, noRebuilt, differs bool
		var key []any
		var a, b map[string]any
		if err := rows.Scan(&noLive, &noRebuilt, &key, &a, &b, &differs); err != nil {
			return err
		}
		d.Rows[t.Name]++
		if !differs {
			continue
		}
		d.Differ[t.Name]++
		d.Total++
		if len(d.Samples) >= maxRows {
			continue
		}
		diff := Difference{Table: t.Name, Key: formatKey(t.Key, key), Kind: "changed"}
		switch {
		case noLive:
			diff.Kind = "only_rebuilt"
		case noRebuilt:
			diff.Kind = "only_live"
		default:
			diff.Columns = columnDifferences(a, b)
		}
		d.Samples = append(d.Samples, diff)
	}
	return rows.Err()
}

func formatKey(names []string, values []any) string {
	parts := make([]string, len(names))
	for k, n := range names {
		var v any
		if k < len(values) {
			v = values[k]
		}
		parts[k] = fmt.Sprintf("%s=%v", n, v)
	}
	return strings.Join(parts, " ")
}

func columnDifferences(live, rebuilt map[string]any) []ColumnDifference {
	names := map[string]struct{}{}
	for n := range live {
		names[n] = struct{}{}
	}
	for n := range rebuilt {
		names[n] = struct{}{}
	}
	var out []ColumnDifference
	for n := range names {
		if reflect.DeepEqual(live[n], rebuilt[n]) {
			continue
		}
		out = append(out, ColumnDifference{Column: n, Live: jsonText(live[n]), Rebuilt: jsonText(rebuilt[n])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Column < out[j].Column })
	return out
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
