// Package projection describes the tables of Telemetra's PostgreSQL projection (migrations/)
// once: each table's columns in the migration's order with their SQL types, its primary key,
// and how writes, reads and replays treat each column. The projector builds its upserts from it
// (views/projector), the API its roll-ups of windows (gateway/store), the replay its comparison
// (views/replay); TestDefinitionsMatchTheMigrations holds it to the migrated schema.
//
// Table and column names are fixed identifiers, never input: the SQL built from them is as
// static as a constant. Names are unqualified; callers qualify the table (search_path, or
// pgx.Identifier) for the schema they work in.
package projection

import (
	"fmt"
	"strings"
)

// Table is one table of the projection.
type Table struct {
	Name string
	// Key is the primary key, in order: the conflict target of upserts and what a replay
	// matches rows by.
	Key []string
	// Columns are all of the table's columns, in the migration's order.
	Columns []Column
	// OfGeneration: the rows are about one processor generation's topics (offsets in them), so
	// the projections of two generations are not compared on this table.
	OfGeneration bool
}

// Column is one column of a table.
type Column struct {
	Name string
	// Type is the SQL type as the migration spells it.
	Type string
	// Stamp: the database sets the column to the time of the write (now()). It says when a row
	// was written, not what it holds, so a write takes no value for it and a replay's comparison
	// leaves it out.
	Stamp bool
	// OfGeneration: the value belongs to the processor generation that emitted the row (its
	// version count, its emission time); the projections of two generations differ in it by
	// design.
	OfGeneration bool
	// OnConflict is what an upsert meeting an existing row does with the column. Key columns
	// are the conflict target and never updated.
	OnConflict Conflict
	// Rollup is how the API merges the column over a bucket of windows (window_aggregates).
	Rollup Rollup
}

// Conflict is what an upsert does with a column of a row that already exists.
type Conflict int

const (
	// Overwrite takes the new row's value.
	Overwrite Conflict = iota
	// KeepGreatest keeps the greater of both: a count that only grows.
	KeepGreatest
	// KeepStored keeps the stored value: it was fixed when the row was first written.
	KeepStored
)

// Rollup is how windows merge one column into a bucket: which part of the API's metrics the
// column feeds, and by what rule. The zero Rollup is a column the API does not merge.
type Rollup struct {
	Part Part
	Rule Rule
}

// Part is the part of a bucket's metrics a merged column feeds.
type Part int

const (
	// NotMerged means the column is not part of the API's roll-ups.
	NotMerged Part = iota
	// PartWindow is the bucket's own fields (WindowMetrics: final, version, events, live).
	PartWindow
	// PartChat is ChatMetrics, except unique chatters.
	PartChat
	// PartChatters is what unique chatters are estimated from (sketches, per-window counts).
	PartChatters
	// PartViewers is ViewerStats.
	PartViewers
	// PartTransactions is TransactionStats.
	PartTransactions
)

// Rule is how the values of a bucket's windows merge.
type Rule int

const (
	// Sum adds the windows' values.
	Sum Rule = iota + 1
	// Max is the largest value.
	Max
	// All is true when every window's value is.
	All
	// Latest is the value of the latest window.
	Latest
	// MinSampled is the smallest value over the windows with viewer samples: a window without
	// samples says nothing about viewers, its zeros are no readings.
	MinSampled
	// MaxSampled is the largest value over the windows with viewer samples.
	MaxSampled
	// LatestSampled is the latest window's value among those with viewer samples.
	LatestSampled
	// Collect gathers the windows' non-empty values for merging outside SQL (sketches, emote
	// lists).
	Collect
	// MaxAndSum is the largest window's value and the windows' sum: the bounds a union of the
	// windows must respect (unique chatters).
	MaxAndSum
)

// Content are the columns that hold what a row says: all but the stamps. A write takes a value
// for each, in this order.
func (t Table) Content() []Column {
	var out []Column
	for _, c := range t.Columns {
		if !c.Stamp {
			out = append(out, c)
		}
	}
	return out
}

// Merged lists the columns merged into p, in table order.
func (t Table) Merged(p Part) []Column {
	var out []Column
	for _, c := range t.Columns {
		if p != NotMerged && c.Rollup.Part == p {
			out = append(out, c)
		}
	}
	return out
}

// List is the columns' names separated by commas, each qualified by alias unless it is empty.
func List(alias string, cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
		if alias != "" {
			names[i] = alias + "." + c.Name
		}
	}
	return strings.Join(names, ", ")
}

// Upsert inserts a row into t, aliased alias, or updates the row with its key as OnConflict
// says: parameters $1, $2, ... are the Content columns in order, the stamps are now(). The
// caller may append a WHERE clause that decides whether an existing row is updated.
func (t Table) Upsert(alias string) string {
	values := make([]string, len(t.Columns))
	n := 0
	for i, c := range t.Columns {
		if c.Stamp {
			values[i] = "now()"
			continue
		}
		n++
		values[i] = fmt.Sprintf("$%d", n)
	}
	return "INSERT INTO " + t.Name + " AS " + alias + " (" + List("", t.Columns) + ")\nVALUES (" +
		strings.Join(values, ", ") + ")\n" + t.OnConflictUpdate(alias)
}

// OnConflictUpdate is the ON CONFLICT clause of an upsert into t (aliased alias): on the key,
// every other column as its OnConflict says.
func (t Table) OnConflictUpdate(alias string) string {
	key := map[string]bool{}
	for _, k := range t.Key {
		key[k] = true
	}
	var set []string
	for _, c := range t.Columns {
		switch {
		case key[c.Name] || c.OnConflict == KeepStored:
		case c.OnConflict == KeepGreatest:
			set = append(set, fmt.Sprintf("%[2]s = GREATEST(%[1]s.%[2]s, excluded.%[2]s)", alias, c.Name))
		default:
			set = append(set, c.Name+" = excluded."+c.Name)
		}
	}
	return "ON CONFLICT (" + strings.Join(t.Key, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
}

// Stage is the name of t's staging table: a temporary table of the connection with t's Content
// columns, which a set-based write fills with COPY and upserts from in one statement
// (UpsertFromStage). It lives in pg_temp, so it is the same whatever schema t is written in.
func (t Table) Stage() string { return "stage_" + t.Name }

// CreateStage creates t's staging table unless the connection has it. Its rows last until the
// transaction ends.
func (t Table) CreateStage() string {
	cols := t.Content()
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = c.Name + " " + c.Type
	}
	return "CREATE TEMP TABLE IF NOT EXISTS " + t.Stage() + " (" + strings.Join(defs, ", ") + ") ON COMMIT DELETE ROWS"
}

// UpsertFromStage is Upsert with the rows of t's staging table instead of one row of
// parameters. The staged rows must have distinct keys: one statement cannot update a row
// twice. The caller may append a WHERE clause as to Upsert.
func (t Table) UpsertFromStage(alias string) string {
	values := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		values[i] = c.Name
		if c.Stamp {
			values[i] = "now()"
		}
	}
	return "INSERT INTO " + t.Name + " AS " + alias + " (" + List("", t.Columns) + ")\nSELECT " +
		strings.Join(values, ", ") + " FROM pg_temp." + t.Stage() + "\n" + t.OnConflictUpdate(alias)
}
