package metrics

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// SVGLine draws values as a small line chart with a title, an axis at
// zero, the maximum written on the left and labels under the first and
// last points. It is plain SVG, no script, with a <title> for screen
// readers; text is escaped.
func SVGLine(title string, values []float64, labels []string, w, h int) string {
	if w < 60 {
		w = 60
	}
	if h < 40 {
		h = 40
	}
	const pad = 22
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d">`, w, h, w, h)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="4" y="12" class="chart-title">%s</text>`, html.EscapeString(title))
	max := 0.0
	for _, v := range values {
		if !math.IsNaN(v) && v > max {
			max = v
		}
	}
	if max == 0 {
		max = 1
	}
	x0, y0, x1, y1 := float64(pad), float64(h-pad), float64(w-6), float64(18)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="chart-axis"/>`, x0, y0, x1, y0)
	fmt.Fprintf(&b, `<text x="2" y="%.1f" class="chart-label">%s</text>`, y1+8, html.EscapeString(short(max)))
	if len(values) > 0 {
		var pts []string
		for i, v := range values {
			if math.IsNaN(v) {
				v = 0
			}
			x := x0
			if len(values) > 1 {
				x = x0 + (x1-x0)*float64(i)/float64(len(values)-1)
			}
			y := y0 - (y0-y1)*v/max
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline points="%s" class="chart-line" fill="none"/>`, strings.Join(pts, " "))
	}
	if len(labels) > 0 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="chart-label">%s</text>`, x0, h-6, html.EscapeString(labels[0]))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="chart-label" text-anchor="end">%s</text>`, x1, h-6, html.EscapeString(labels[len(labels)-1]))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func short(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
