// Package theme is the look shared by the console and the HTML report: one
// stylesheet and charts drawn as SVG on the server. Charts need no
// JavaScript, so pages read the same with scripts off, under a
// Content-Security-Policy without inline scripts, and in a report file
// opened offline.
package theme

import (
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// CSS is the stylesheet. The console serves it as a file; the HTML report
// inlines it.
//
//go:embed console.css
var CSS string

// Bar is one bar of a bar chart.
type Bar struct {
	Label string
	Value int
	// Class colours the bar (fill-critical, fill-ok, ...); the label and
	// the number say the same without colour.
	Class string
}

// BarChart draws horizontal bars with their labels and values, scaled to
// the largest value. title names the chart for screen readers.
func BarChart(title string, bars []Bar) template.HTML {
	const (
		width  = 480.0
		rowH   = 30.0
		labelW = 110.0
		valueW = 70.0
	)
	maxV := 0
	for _, b := range bars {
		maxV = max(maxV, b.Value)
	}
	h := rowH*float64(len(bars)) + 8
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart bars" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`,
		width, h, esc(title), esc(title))
	for i, b := range bars {
		y := 4 + rowH*float64(i)
		w := 0.0
		if maxV > 0 {
			w = (width - labelW - valueW) * float64(b.Value) / float64(maxV)
		}
		if b.Value > 0 {
			w = math.Max(w, 2)
		}
		class := b.Class
		if class == "" {
			class = "fill-accent"
		}
		fmt.Fprintf(&sb, `<text class="bar-label" x="0" y="%.1f">%s</text>`, y+rowH/2+4, esc(b.Label))
		fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="3"><title>%s: %s</title></rect>`,
			esc(class), labelW, y+4, w, rowH-10, esc(b.Label), Number(b.Value))
		fmt.Fprintf(&sb, `<text class="value" x="%.1f" y="%.1f">%s</text>`, labelW+w+8, y+rowH/2+4, Number(b.Value))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// Point is one value of a series on a day; Known false leaves a gap (a
// day without a measure is not a zero).
type Point struct {
	X     time.Time
	Y     float64
	Known bool
}

// Series is one line of a line chart.
type Series struct {
	Name   string
	Points []Point
}

// LineChart draws series over time with a y axis from 0 to the largest
// value (or to yMax when it is above 0, e.g. 100 for percentages). Each
// series has its own dash pattern as well as its own colour, and the
// legend is returned as HTML to place under the chart.
func LineChart(title string, series []Series, yMax float64, unit string) (chart, legend template.HTML) {
	const (
		width, height       = 480.0, 220.0
		left, right, top    = 44.0, 14.0, 12.0
		bottom              = 30.0
		plotW, plotH        = width - left - right, height - top - bottom
		maxSeries           = 5
		gridLines           = 4
		minSpan             = 24 * time.Hour
		dateLayout          = "Jan 2"
		circleR             = 3.5
		fallbackYMax        = 1.0
		labelOffset         = 6.0
		dateLabelCountLimit = 6
	)
	var t0, t1 time.Time
	top2 := 0.0
	for _, s := range series {
		for _, p := range s.Points {
			if !p.Known {
				continue
			}
			if t0.IsZero() || p.X.Before(t0) {
				t0 = p.X
			}
			if t1.IsZero() || p.X.After(t1) {
				t1 = p.X
			}
			top2 = math.Max(top2, p.Y)
		}
	}
	if yMax <= 0 {
		yMax = niceCeil(top2)
		if yMax == 0 {
			yMax = fallbackYMax
		}
	}
	if t1.Sub(t0) < minSpan {
		t0 = t1.Add(-minSpan)
	}
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 { return left + plotW*t.Sub(t0).Seconds()/span }
	y := func(v float64) float64 { return top + plotH*(1-v/yMax) }

	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s"><title>%s</title>`,
		width, height, esc(title), esc(title))
	for i := 0; i <= gridLines; i++ {
		v := yMax * float64(i) / gridLines
		cls := "grid-line"
		if i == 0 {
			cls = "axis"
		}
		fmt.Fprintf(&sb, `<line class="%s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, cls, left, width-right, y(v), y(v))
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, left-labelOffset, y(v)+4, esc(short(v)+unit))
	}
	days := int(math.Round(t1.Sub(t0).Hours()/24)) + 1
	step := max(1, (days+dateLabelCountLimit-1)/dateLabelCountLimit)
	if !t1.IsZero() {
		for d := 0; d < days; d += step {
			t := t1.AddDate(0, 0, -d)
			if t.Before(t0) {
				break
			}
			anchor := "middle"
			switch {
			case d == 0:
				anchor = "end" // the latest day sits at the right edge
			case t.Sub(t0) < 12*time.Hour:
				anchor = "start"
			}
			fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x(t), height-8, anchor, esc(t.Format(dateLayout)))
		}
	}
	for i, s := range series {
		k := i % maxSeries
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				fmt.Fprintf(&sb, `<polyline class="line series-%d" points="%s"/>`, k, strings.Join(seg, " "))
			}
			seg = seg[:0]
		}
		for _, p := range s.Points {
			if !p.Known {
				flush()
				continue
			}
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", x(p.X), y(p.Y)))
		}
		flush()
		for _, p := range s.Points {
			if p.Known {
				fmt.Fprintf(&sb, `<circle class="dot-%d" cx="%.1f" cy="%.1f" r="%.1f"><title>%s %s: %s%s</title></circle>`,
					k, x(p.X), y(p.Y), circleR, esc(s.Name), esc(p.X.Format("2006-01-02")), esc(short(p.Y)), esc(unit))
			}
		}
	}
	sb.WriteString(`</svg>`)

	var lg strings.Builder
	lg.WriteString(`<ul class="legend">`)
	for i, s := range series {
		fmt.Fprintf(&lg, `<li><svg viewBox="0 0 28 10" aria-hidden="true"><line class="line series-%d" x1="0" x2="28" y1="5" y2="5"/></svg>%s</li>`, i%maxSeries, esc(s.Name))
	}
	lg.WriteString(`</ul>`)
	return template.HTML(sb.String()), template.HTML(lg.String())
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// short prints a chart value: whole numbers as such, others with one decimal.
func short(v float64) string {
	if v == math.Trunc(v) {
		return Number(int(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// Number prints an integer with thousands separators: 2,002.
func Number(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }
