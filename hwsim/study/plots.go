package study

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/ngc/report"
	"github.com/convngc/convngc/ngc/viz"
)

// Save writes the report to dir (created if need be): hwsim.json, and
// the plots of WritePlots. It returns the JSON file's path and the plots'.
func (r *Report) Save(dir string) (jsonPath string, plots []string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("hwsim: %w", err)
	}
	jsonPath = filepath.Join(dir, "hwsim.json")
	if err := report.WriteJSON(jsonPath, r); err != nil {
		return "", nil, err
	}
	plots, err = r.WritePlots(dir)
	return jsonPath, plots, err
}

// WritePlots draws the report's curves and energy chart as PNG files in
// dir (which must exist) and returns their paths: per architecture the
// first batch's total discrepancy and reconstruction error against virtual
// time (discrepancy-time-ARCH.png, recon-time-ARCH.png); both against
// messages sent, one curve per async architecture and one for sync
// (discrepancy-messages.png, recon-messages.png); the async staleness
// distribution (staleness.png); and energy per image per architecture
// (energy.png).
func (r *Report) WritePlots(dir string) ([]string, error) {
	var files []string
	save := func(name string, lp viz.LinePlot) error {
		p := filepath.Join(dir, name)
		if err := lp.WritePNG(p); err != nil {
			return err
		}
		files = append(files, p)
		return nil
	}
	var byMsgD, byMsgR []viz.Series
	syncDone := map[string]bool{}
	stale := viz.LinePlot{Title: "staleness of the inputs state maps corrected with (async)", XLabel: "version lag", YLabel: "fraction of inputs"}
	for _, a := range r.Archs {
		if len(a.Runs) == 0 {
			continue
		}
		var dt, rt []viz.Series
		for _, m := range a.Runs {
			dt = append(dt, series(m.Label(), m.Timeline, virtualMicros, discrepancy))
			rt = append(rt, series(m.Label(), m.Timeline, virtualMicros, reconMSE))
			if m.Mode == "sync" && syncDone[m.Label()] {
				continue // the sync dataflow sends the same messages on every architecture
			}
			syncDone[m.Label()] = m.Mode == "sync"
			name := m.Label()
			if m.Mode == "async" {
				name = m.Label() + " " + a.Arch
				stale.Series = append(stale.Series, lagSeries(name, m.StateLag))
			}
			byMsgD = append(byMsgD, series(name, m.Timeline, messages, discrepancy))
			byMsgR = append(byMsgR, series(name, m.Timeline, messages, reconMSE))
		}
		if err := save("discrepancy-time-"+a.Arch+".png", viz.LinePlot{Title: "total discrepancy on " + a.Arch + ", first batch",
			XLabel: "virtual time (µs, per image)", YLabel: "½Σ‖e‖² per image", LogY: true, Series: dt}); err != nil {
			return nil, err
		}
		if err := save("recon-time-"+a.Arch+".png", viz.LinePlot{Title: "reconstruction error on " + a.Arch + ", first batch",
			XLabel: "virtual time (µs, per image)", YLabel: "MSE per pixel on [0,1]", LogY: true, Series: rt}); err != nil {
			return nil, err
		}
	}
	if len(byMsgD) > 0 {
		if err := save("discrepancy-messages.png", viz.LinePlot{Title: "total discrepancy vs messages, first batch",
			XLabel: "messages sent per image", YLabel: "½Σ‖e‖² per image", LogY: true, Series: byMsgD}); err != nil {
			return nil, err
		}
		if err := save("recon-messages.png", viz.LinePlot{Title: "reconstruction error vs messages, first batch",
			XLabel: "messages sent per image", YLabel: "MSE per pixel on [0,1]", LogY: true, Series: byMsgR}); err != nil {
			return nil, err
		}
	}
	if len(stale.Series) > 0 {
		if err := save("staleness.png", stale); err != nil {
			return nil, err
		}
	}
	p := filepath.Join(dir, "energy.png")
	if err := r.energyChart(p); err != nil {
		return nil, err
	}
	return append(files, p), nil
}

// What the curves plot of a timeline sample.
func virtualMicros(s hwsim.Sample) float64 { return s.Time * 1e6 }
func messages(s hwsim.Sample) float64      { return float64(s.Messages) }
func discrepancy(s hwsim.Sample) float64   { return s.Discrepancy }
func reconMSE(s hwsim.Sample) float64      { return s.ReconMSE }

// series is one curve of a timeline.
func series(name string, tl []hwsim.Sample, x, y func(hwsim.Sample) float64) viz.Series {
	s := viz.Series{Name: name}
	for _, p := range tl {
		s.X = append(s.X, x(p))
		s.Y = append(s.Y, y(p))
	}
	return s
}

// lagSeries is a lag histogram as fractions of all inputs, by lag.
func lagSeries(name string, hist map[int]int) viz.Series {
	s := viz.Series{Name: name}
	total := 0
	for _, n := range hist {
		total += n
	}
	lags := make([]int, 0, len(hist))
	for l := range hist {
		lags = append(lags, l)
	}
	sort.Ints(lags)
	for _, l := range lags {
		s.X = append(s.X, float64(l))
		s.Y = append(s.Y, float64(hist[l])/float64(total))
	}
	return s
}

// energyChart draws energy per image per architecture on a log scale: one
// marker per architecture for reconstruction (each mode and encoding) and
// training (each encoding), side by side.
func (r *Report) energyChart(path string) error {
	var names, order []string
	groups := map[string]plotter.XYs{}
	add := func(group string, i int, v float64) {
		if !(v > 0) {
			return
		}
		if _, ok := groups[group]; !ok {
			order = append(order, group)
		}
		groups[group] = append(groups[group], plotter.XY{X: float64(i), Y: v})
	}
	i := 0
	for _, a := range r.Archs {
		if len(a.Runs) == 0 {
			continue
		}
		names = append(names, a.Arch)
		for _, m := range a.Runs {
			add("reconstruction, "+m.Label(), i, m.EnergyPerImage)
		}
		for _, tr := range []*TrainReport{a.Training, a.TrainingEncoded} {
			if tr != nil {
				add(trainingGroup(tr), i, tr.EnergyPerImage)
			}
		}
		i++
	}
	if r.Reference != nil {
		names = append(names, "cpu batched, measured")
		add("reconstruction, sync", i, r.Reference.InferenceEnergyPerImage)
		add("training (sync)", i, r.Reference.TrainingEnergyPerImage)
	}
	// Spread the groups' markers around each column.
	for gi, g := range order {
		off := 0.12 * (float64(gi) - float64(len(order)-1)/2)
		for k := range groups[g] {
			groups[g][k].X += off
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("hwsim: no energy to plot")
	}
	return saveEnergyChart(path, names, order, groups)
}

// trainingGroup names a training batch's markers.
func trainingGroup(tr *TrainReport) string {
	if tr.Encoding == "" || tr.Encoding == "dense" {
		return "training (sync)"
	}
	return "training (sync, " + tr.Encoding + ")"
}

// saveEnergyChart draws the groups of markers over the named columns.
func saveEnergyChart(path string, names, order []string, groups map[string]plotter.XYs) error {
	p := plot.New()
	p.Title.Text = "energy per image"
	p.Y.Label.Text = "J per image"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	colors := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}}
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.CrossGlyph{}, draw.PyramidGlyph{}, draw.PlusGlyph{}}
	for gi, g := range order {
		sc, err := plotter.NewScatter(groups[g])
		if err != nil {
			return fmt.Errorf("hwsim: energy chart: %w", err)
		}
		sc.GlyphStyle.Color = colors[gi%len(colors)]
		sc.GlyphStyle.Shape = shapes[gi%len(shapes)]
		sc.GlyphStyle.Radius = vg.Points(4)
		p.Add(sc)
		p.Legend.Add(g, sc)
	}
	p.Legend.Top = false
	p.Legend.Left = true
	p.Legend.YOffs = vg.Points(-2)
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	if err := p.Save(18*vg.Centimeter, 11*vg.Centimeter, path); err != nil {
		return fmt.Errorf("hwsim: save %s: %w", path, err)
	}
	return nil
}
