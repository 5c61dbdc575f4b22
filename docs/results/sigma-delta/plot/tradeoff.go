package main

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// curve is one series of a trade-off plot: a line through labelled points,
// lone points (dense), or a dashed horizontal line at y[0].
type curve struct {
	name   string
	x, y   []float64
	labels []string
	point  bool
	dashed bool
}

var colors = []color.RGBA{{31, 119, 180, 255}, {31, 119, 180, 255}, {31, 119, 180, 255}, {214, 39, 40, 255}, {214, 39, 40, 255}, {214, 39, 40, 255}}

// tradeoff draws MSE (log) against a log-scaled traffic measure.
func tradeoff(path, title, xlabel string, curves []curve) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = "reconstruction MSE ([0,255], log)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = logTicks{}, logTicks{}
	p.Add(plotter.NewGrid())
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, c := range curves {
		for _, v := range c.x {
			xmin, xmax = math.Min(xmin, v), math.Max(xmax, v)
		}
	}
	for i, c := range curves {
		col := colors[i%len(colors)]
		if c.dashed {
			l, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: c.y[0]}, {X: xmax, Y: c.y[0]}})
			if err != nil {
				return err
			}
			l.Color, l.Dashes, l.Width = col, []vg.Length{vg.Points(4), vg.Points(3)}, vg.Points(1)
			p.Add(l)
			p.Legend.Add(c.name, l)
			continue
		}
		pts := make(plotter.XYs, len(c.x))
		for k := range c.x {
			pts[k] = plotter.XY{X: c.x[k], Y: c.y[k]}
		}
		if len(pts) == 0 {
			continue
		}
		if c.point {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(5), Shape: draw.BoxGlyph{}}
			p.Add(sc)
			p.Legend.Add(c.name, sc)
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, l.Width = col, vg.Points(1.5)
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		p.Add(l, sc)
		p.Legend.Add(c.name, l, sc)
		if len(c.labels) == len(c.x) {
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: c.labels})
			if err != nil {
				return err
			}
			for k := range lb.TextStyle {
				lb.TextStyle[k].Color = col
				lb.TextStyle[k].Font.Size = vg.Points(7)
			}
			lb.Offset = vg.Point{X: vg.Points(3), Y: vg.Points(2)}
			p.Add(lb)
		}
	}
	p.Legend.Top = true
	if err := p.Save(18*vg.Centimeter, 12*vg.Centimeter, path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// logTicks labels 1, 2 and 5 times every power of ten in range (minor
// ticks at the other integers), so that a narrow log axis has labels too.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		base := math.Pow(10, e)
		for m := 1; m < 10; m++ {
			v := float64(m) * base
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}
