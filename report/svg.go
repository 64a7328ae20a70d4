package report

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// WriteSVG renders a chart as a standalone SVG image of the given size in
// pixels, for the web console and for embedding in HTML reports.
func (c *Chart) WriteSVG(w io.Writer, width, height int) error {
	const padL, padR, padT, padB = 56.0, 12.0, 28.0, 44.0
	W, H := float64(width), float64(height)
	pw, ph := W-padL-padR, H-padT-padB
	lo, hi := c.bounds()
	y := func(v float64) float64 { return padT + ph - ph*(v-lo)/(hi-lo) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, width, height, width, height)
	fmt.Fprintf(&b, `<title>%s</title><rect width="100%%" height="100%%" fill="#fff"/>`, html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<text x="%g" y="16" font-weight="bold">%s</text>`, padL, html.EscapeString(c.Title))
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`,
			padL, padL+pw, y(v), y(v), padL-4, y(v)+4, FormatCell(roundTo(v, 3)))
	}
	n := len(c.Labels)
	if n > 0 {
		step := pw / float64(n)
		every := (n + 11) / 12
		for i, l := range c.Labels {
			if i%every == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`, padL+step*(float64(i)+0.5), padT+ph+16, html.EscapeString(l))
			}
		}
		for si, s := range c.Series {
			col := palette[si%len(palette)]
			fill := fmt.Sprintf("rgb(%d,%d,%d)", col[0], col[1], col[2])
			if c.Kind == Line {
				pts := make([]string, n)
				for i, v := range s.Values {
					pts[i] = fmt.Sprintf("%.1f,%.1f", padL+step*(float64(i)+0.5), y(v))
				}
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, fill, strings.Join(pts, " "))
			} else {
				bw := step * 0.8 / float64(len(c.Series))
				base := y(max(lo, 0))
				for i, v := range s.Values {
					top := y(v)
					fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
						padL+step*float64(i)+step*0.1+bw*float64(si), min(top, base), bw, abs(base-top), fill,
						html.EscapeString(s.Name), html.EscapeString(c.Labels[i]), FormatCell(v))
				}
			}
			fmt.Fprintf(&b, `<rect x="%g" y="%g" width="10" height="10" fill="%s"/><text x="%g" y="%g">%s</text>`,
				padL+float64(si)*120, H-14, fill, padL+float64(si)*120+14, H-5, html.EscapeString(s.Name))
		}
	}
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
