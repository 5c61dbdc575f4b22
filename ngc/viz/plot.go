package viz

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one named curve of a line plot.
type Series struct {
	Name string
	X, Y []float64
	// Hue, when positive, draws the curve in palette colour Hue−1, so
	// that curves which belong together (a variant and its reference)
	// share a colour; 0 takes the colour of the series' position.
	Hue int
	// Dashed draws the curve dashed.
	Dashed bool
}

// LinePlot is a titled plot of one or more curves.
type LinePlot struct {
	Title, XLabel, YLabel string
	// LogX and LogY draw an axis on a logarithmic scale (points at or
	// below zero on it are left out).
	LogX, LogY bool
	Series     []Series
}

var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// WritePNG renders the plot (15×10 cm) to a PNG file at path.
func (lp LinePlot) WritePNG(path string) error {
	p, err := lp.build()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	if err := p.Save(15*vg.Centimeter, 10*vg.Centimeter, path); err != nil {
		return fmt.Errorf("viz: save %s: %w", path, err)
	}
	return nil
}

// WritePanels renders plots as a grid of panels, cols per row and each
// 12×9 cm, into one PNG file at path.
func WritePanels(path string, cols int, plots []LinePlot) error {
	if cols < 1 || len(plots) == 0 {
		return fmt.Errorf("viz: %d panels in %d columns", len(plots), cols)
	}
	rows := (len(plots) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
		for c := range grid[r] {
			if i := r*cols + c; i < len(plots) {
				p, err := plots[i].build()
				if err != nil {
					return err
				}
				grid[r][c] = p
			}
		}
	}
	img := vgimg.New(vg.Length(cols)*12*vg.Centimeter, vg.Length(rows)*9*vg.Centimeter)
	dc := draw.New(img)
	pad := vg.Millimeter * 2
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadTop: pad, PadBottom: pad, PadLeft: pad, PadRight: pad, PadX: 4 * pad, PadY: 4 * pad}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for c, p := range grid[r] {
			if p != nil {
				p.Draw(canvases[r][c])
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("viz: save %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("viz: save %s: %w", path, err)
	}
	return nil
}

// build lays out the plot.
func (lp LinePlot) build() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = lp.Title
	p.X.Label.Text = lp.XLabel
	p.Y.Label.Text = lp.YLabel
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, s := range lp.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("viz: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		pts := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if lp.LogY && s.Y[j] <= 0 || lp.LogX && s.X[j] <= 0 || math.IsNaN(s.Y[j]) || math.IsInf(s.Y[j], 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("viz: series %q: %w", s.Name, err)
		}
		l.Color = palette[i%len(palette)]
		if s.Hue > 0 {
			l.Color = palette[(s.Hue-1)%len(palette)]
		}
		l.Width = vg.Points(1.5)
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		drawn++
		if s.Name != "" {
			p.Legend.Add(s.Name, l)
		}
	}
	p.Legend.Top = true
	if lp.LogY && drawn > 0 { // a log axis needs positive data to span
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	if lp.LogX && drawn > 0 {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	return p, nil
}

// logTicks labels a logarithmic axis at the powers of ten and, where the
// range holds fewer than two of them, at 1, 2 and 5 times the powers of ten
// (or finer), so that an axis within one decade still has labelled ticks.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	labelled := 0
	for _, t := range ticks {
		if t.Label != "" && t.Value >= lo && t.Value <= hi {
			labelled++
		}
	}
	if labelled >= 2 {
		return ticks
	}
	for _, mults := range [][]float64{{1, 2, 5}, {1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9}} {
		var out []plot.Tick
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			for _, m := range mults {
				v := m * math.Pow(10, e)
				if v >= lo && v <= hi {
					out = append(out, plot.Tick{Value: v, Label: tickLabel(v)})
				}
			}
		}
		if len(out) >= 2 {
			return out
		}
	}
	// Narrower than a tenth of a decade: label both ends.
	return []plot.Tick{
		{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)},
		{Value: hi, Label: strconv.FormatFloat(hi, 'g', 4, 64)},
	}
}

// tickLabel writes a tick value plainly (2000, 0.05) where that stays short,
// and in exponent form (2e-05, 3e+07) beyond.
func tickLabel(v float64) string {
	if a := math.Abs(v); a == 0 || a >= 1e-3 && a < 1e6 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
