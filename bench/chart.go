package bench

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// barGroup is one labelled group of bars, one value per series.
type barGroup struct {
	label  string
	values []float64
}

var seriesColors = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2"}

// barChart draws a horizontal grouped bar chart as a standalone SVG.
func barChart(title, unit string, series []string, groups []barGroup) string {
	const width, labelW, barH, gap, top = 900, 330, 14, 10, 60
	maxV := 0.0
	for _, g := range groups {
		for _, v := range g.values {
			maxV = max(maxV, v)
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	plotW := float64(width - labelW - 170) // room for the value after the longest bar
	height := top + len(groups)*(len(series)*barH+gap) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	for i, s := range series {
		x := labelW + i*130
		fmt.Fprintf(&b, `<rect x="%d" y="34" width="12" height="12" fill="%s"/><text x="%d" y="45">%s</text>`+"\n", x, seriesColors[i%len(seriesColors)], x+16, html.EscapeString(s))
	}
	y := top
	for _, g := range groups {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+len(series)*barH/2+4, html.EscapeString(g.label))
		for i, v := range g.values {
			w := v / maxV * plotW
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/><text x="%.1f" y="%d">%s</text>`+"\n",
				labelW, y, w, barH-2, seriesColors[i%len(seriesColors)], float64(labelW)+w+4, y+barH-4, html.EscapeString(formatValue(v, unit)))
			y += barH
		}
		y += gap
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`+"\n", labelW, top-4, labelW, y)
	b.WriteString("</svg>\n")
	return b.String()
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmt.Sprintf("%.0f ms", v)
	default:
		return count(int64(v+0.5)) + " " + unit
	}
}

// writeCharts draws the freshness percentiles and the stages against their baselines.
func writeCharts(dir string, rep *Report) error {
	var fresh []barGroup
	for _, f := range rep.Freshness {
		for _, r := range f.Rows {
			fresh = append(fresh, barGroup{label: fmt.Sprintf("%s/s: %s", count(int64(f.Rate)), r.Name),
				values: []float64{toMS(r.P50), toMS(r.P95), toMS(r.P99)}})
		}
	}
	if len(fresh) > 0 {
		svg := barChart("Freshness: from the window's latest event to where it is seen", "ms", []string{"p50", "p95", "p99"}, fresh)
		if err := os.WriteFile(filepath.Join(dir, "freshness.svg"), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	var capacity []barGroup
	for _, s := range rep.Capacity {
		if s.Baseline > 0 {
			capacity = append(capacity, barGroup{label: s.Stage, values: []float64{s.PerSecond, s.Baseline}})
		}
	}
	if len(capacity) > 0 {
		svg := barChart("Each stage alone vs a raw franz-go consumer of the same topics", "records/s",
			[]string{"stage", "raw consumer"}, capacity)
		return os.WriteFile(filepath.Join(dir, "capacity.svg"), []byte(svg), 0o644)
	}
	return nil
}

func toMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
