// Command plot gathers the reports of docs/results/sigma-delta/sweep.sh —
// `ngc run` reports (dense and one per threshold θ, per data set and mode)
// and `ngc hwsim` reports (one per θ, per data set) — into sweep.csv, a
// Markdown summary (sweep.md) and PNG plots of the trade-off: reconstruction
// MSE against bytes and against synaptic operations per image and step,
// sync and async; hwsim's energy and latency per image against θ, per
// architecture.
//
//	go run ./docs/results/sigma-delta/plot [DIR]   (default: docs/results/sigma-delta)
//
// With -learning DIR it gathers instead the learning runs of learning.sh
// (`ngc run --learn --val-images` reports and their test evaluations) into
// learning.md and plots of the validation MSE against image-updates,
// messages, bytes and wall time.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/convngc/convngc/hwsim/study"
	"github.com/convngc/convngc/ngc/viz"
)

// runReport is what the plot reads of an `ngc run` report.
type runReport struct {
	Mode    string `json:"mode"`
	Dataset string `json:"dataset"`
	Result  struct {
		Metrics struct {
			MSE    float64 `json:"mse"`
			Images int     `json:"images"`
		} `json:"metrics"`
		Energy []float64 `json:"energy_per_step"`
	} `json:"result"`
	Runtime struct {
		Encoding     string `json:"encoding"`
		PerImageStep struct {
			Messages    float64 `json:"messages"`
			Bytes       float64 `json:"bytes"`
			SynapticOps float64 `json:"synaptic_ops"`
		} `json:"per_image_step"`
		ImagesPerSecond float64 `json:"images_per_second"`
	} `json:"runtime"`
}

// point is one run of the sweep.
type point struct {
	ds, mode string
	theta    float64 // -1: dense
	r        runReport
}

func (p point) final() float64 {
	if e := p.r.Result.Energy; len(e) > 0 {
		return e[len(e)-1]
	}
	return math.NaN()
}

func main() {
	learning := flag.Bool("learning", false, "plot learning.sh's runs (DIR: their folder)")
	flag.Parse()
	dir := "docs/results/sigma-delta"
	if flag.NArg() > 0 {
		dir = flag.Arg(0)
	}
	do := run
	if *learning {
		do = learningPlots
	}
	if err := do(dir); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

// thetaOf reads θ from a report's name: dense.json is -1, theta-0.005.json
// is 0.005.
func thetaOf(name string) (float64, bool) {
	base := strings.TrimSuffix(filepath.Base(name), ".json")
	if base == "dense" {
		return -1, true
	}
	if v, ok := strings.CutPrefix(base, "theta-"); ok {
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

func run(dir string) error {
	var pts []point
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.json"))
	for _, f := range files {
		theta, ok := thetaOf(f)
		mode := filepath.Base(filepath.Dir(f))
		if !ok || (mode != "sync" && mode != "async") {
			continue
		}
		var r runReport
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		pts = append(pts, point{ds: filepath.Base(filepath.Dir(filepath.Dir(f))), mode: mode, theta: theta, r: r})
	}
	if len(pts) == 0 {
		return fmt.Errorf("no reports under %s/<dataset>/<mode>/", dir)
	}
	sort.Slice(pts, func(i, j int) bool {
		a, b := pts[i], pts[j]
		if a.ds != b.ds {
			return a.ds < b.ds
		}
		if a.mode != b.mode {
			return a.mode > b.mode // sync first
		}
		return a.theta < b.theta
	})
	dense := map[[2]string]point{}
	for _, p := range pts {
		if p.theta < 0 {
			dense[[2]string{p.ds, p.mode}] = p
		}
	}
	var csv, md strings.Builder
	csv.WriteString("dataset,mode,encoding,theta,images,messages,bytes,synaptic_ops,mse,final_energy,bytes_ratio,ops_ratio,mse_change\n")
	md.WriteString("| data set | mode | encoding | bytes / image / step | synaptic ops / image / step | MSE | final ½Σ‖e‖² |\n|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		d, ok := dense[[2]string{p.ds, p.mode}]
		s := p.r.Runtime.PerImageStep
		br, or, mc := math.NaN(), math.NaN(), math.NaN()
		if ok {
			ds := d.r.Runtime.PerImageStep
			br, or, mc = ds.Bytes/s.Bytes, ds.SynapticOps/s.SynapticOps, p.r.Result.Metrics.MSE/d.r.Result.Metrics.MSE-1
		}
		fmt.Fprintf(&csv, "%s,%s,%s,%g,%d,%.2f,%.1f,%.1f,%.4f,%.4f,%.4f,%.4f,%.5f\n", p.ds, p.mode, p.r.Runtime.Encoding, p.theta,
			p.r.Result.Metrics.Images, s.Messages, s.Bytes, s.SynapticOps, p.r.Result.Metrics.MSE, p.final(), br, or, mc)
		enc := p.r.Runtime.Encoding
		if p.theta >= 0 {
			fmt.Fprintf(&md, "| %s | %s | %s | %.0f (%.2f× fewer) | %.0f (%.2f× fewer) | %.2f (%+.1f%%) | %.3f |\n", p.ds, p.mode, enc, s.Bytes, br, s.SynapticOps, or,
				p.r.Result.Metrics.MSE, 100*mc, p.final())
		} else {
			fmt.Fprintf(&md, "| %s | %s | %s | %.0f | %.0f | %.2f | %.3f |\n", p.ds, p.mode, enc, s.Bytes, s.SynapticOps, p.r.Result.Metrics.MSE, p.final())
		}
	}
	md.WriteString("\nThe largest θ whose MSE is within 5% of dense (sync, then async):\n\n")
	for _, key := range sortedKeys(dense) {
		best := point{theta: -1}
		for _, p := range pts {
			if p.ds == key[0] && p.mode == key[1] && p.theta >= 0 && p.r.Result.Metrics.MSE <= 1.05*dense[key].r.Result.Metrics.MSE && p.theta > best.theta {
				best = p
			}
		}
		if best.theta < 0 {
			fmt.Fprintf(&md, "- %s %s: none\n", key[0], key[1])
			continue
		}
		d, s := dense[key].r.Runtime.PerImageStep, best.r.Runtime.PerImageStep
		fmt.Fprintf(&md, "- %s %s: θ = %g: bytes %.2f× fewer, synaptic operations %.2f× fewer, MSE %+.1f%%\n", key[0], key[1], best.theta,
			d.Bytes/s.Bytes, d.SynapticOps/s.SynapticOps, 100*(best.r.Result.Metrics.MSE/dense[key].r.Result.Metrics.MSE-1))
	}
	var plots []string
	for _, ds := range datasets(pts) {
		for _, what := range []struct {
			file, label string
			x           func(point) float64
		}{
			{"bytes", "bytes per image and step (log)", func(p point) float64 { return p.r.Runtime.PerImageStep.Bytes }},
			{"ops", "synaptic operations per image and step (log)", func(p point) float64 { return p.r.Runtime.PerImageStep.SynapticOps }},
		} {
			var curves []curve
			for _, mode := range []string{"sync", "async"} {
				sd := curve{name: "sigma-delta, " + mode + " (θ labelled)"}
				dn := curve{name: "dense, " + mode, point: true}
				for _, p := range pts {
					if p.ds != ds || p.mode != mode {
						continue
					}
					if p.theta < 0 {
						dn.x, dn.y = append(dn.x, what.x(p)), append(dn.y, p.r.Result.Metrics.MSE)
						continue
					}
					sd.x, sd.y = append(sd.x, what.x(p)), append(sd.y, p.r.Result.Metrics.MSE)
					sd.labels = append(sd.labels, strconv.FormatFloat(p.theta, 'g', -1, 64))
				}
				if len(dn.y) > 0 {
					curves = append(curves, curve{name: "dense MSE + 5%, " + mode, dashed: true, y: []float64{1.05 * dn.y[0]}})
				}
				curves = append(curves, sd, dn)
			}
			path := filepath.Join(dir, ds+"-"+what.file+".png")
			if err := tradeoff(path, fmt.Sprintf("%s: reconstruction MSE against traffic (sigma-delta θ sweep)", ds), what.label, curves); err != nil {
				return err
			}
			plots = append(plots, path)
		}
	}
	hw, err := hwsimSweep(dir, &md)
	if err != nil {
		return err
	}
	plots = append(plots, hw...)
	if err := os.WriteFile(filepath.Join(dir, "sweep.csv"), []byte(csv.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sweep.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	fmt.Printf("\nwrote %s, %s and %s\n", filepath.Join(dir, "sweep.csv"), filepath.Join(dir, "sweep.md"), strings.Join(plots, ", "))
	return nil
}

// hwsimSweep reads <dir>/<dataset>/hwsim/theta-<θ>/hwsim.json (studies
// comparing sigma-delta θ with dense) and plots energy and virtual latency
// per image against θ per architecture (sync), dense at θ = 0's left as a
// flat line; it appends a table to md.
func hwsimSweep(dir string, md *strings.Builder) ([]string, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*", "hwsim", "theta-*", "hwsim.json"))
	type row struct {
		ds    string
		theta float64
		r     study.Report
	}
	var rows []row
	for _, f := range files {
		theta, ok := thetaOf(filepath.Dir(f) + ".json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r study.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		rows = append(rows, row{filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(f)))), theta, r})
	}
	if len(rows) == 0 {
		return nil, nil
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].ds != rows[j].ds {
			return rows[i].ds < rows[j].ds
		}
		return rows[i].theta < rows[j].theta
	})
	md.WriteString("\nhwsim, sync dynamics, energy and virtual latency per reconstructed image (dense → sigma-delta):\n\n")
	md.WriteString("| data set | θ | arch | dense J/img | sigma-delta J/img | dense latency | sigma-delta latency | recon MSE dense / σΔ |\n|---|---|---|---|---|---|---|---|\n")
	var plots []string
	byDS := map[string][]row{}
	for _, r := range rows {
		byDS[r.ds] = append(byDS[r.ds], r)
	}
	for _, ds := range sortedStrings(byDS) {
		energy := viz.LinePlot{Title: ds + ": energy per reconstructed image (sync)", XLabel: "threshold θ (log)", YLabel: "J per image (log)", LogX: true, LogY: true}
		latency := viz.LinePlot{Title: ds + ": virtual latency per image (sync)", XLabel: "threshold θ (log)", YLabel: "seconds per image (log)", LogX: true, LogY: true}
		curves := map[string]*[4]viz.Series{}
		var archs []string
		for _, r := range byDS[ds] {
			for _, a := range r.r.Archs {
				var dn, sd *study.ModeReport
				for i := range a.Runs {
					m := &a.Runs[i]
					if m.Mode != "sync" {
						continue
					}
					if m.Encoding == "dense" {
						dn = m
					} else {
						sd = m
					}
				}
				if dn == nil || sd == nil {
					continue
				}
				c := curves[a.Arch]
				if c == nil {
					hue := len(archs) + 1 // an architecture's two curves share a colour; dense is dashed
					c = &[4]viz.Series{{Name: a.Arch + ", sigma-delta", Hue: hue}, {Name: a.Arch + ", dense", Hue: hue, Dashed: true},
						{Name: a.Arch + ", sigma-delta", Hue: hue}, {Name: a.Arch + ", dense", Hue: hue, Dashed: true}}
					curves[a.Arch] = c
					archs = append(archs, a.Arch)
				}
				x := r.theta
				c[0].X, c[0].Y = append(c[0].X, x), append(c[0].Y, sd.EnergyPerImage)
				c[1].X, c[1].Y = append(c[1].X, x), append(c[1].Y, dn.EnergyPerImage)
				c[2].X, c[2].Y = append(c[2].X, x), append(c[2].Y, sd.ImageLatency)
				c[3].X, c[3].Y = append(c[3].X, x), append(c[3].Y, dn.ImageLatency)
				fmt.Fprintf(md, "| %s | %g | %s | %s | %s | %s | %s | %.5f / %.5f |\n", ds, r.theta, a.Arch, study.SI(dn.EnergyPerImage, "J"),
					study.SI(sd.EnergyPerImage, "J"), study.SI(dn.ImageLatency, "s"), study.SI(sd.ImageLatency, "s"), dn.ReconMSE, sd.ReconMSE)
			}
		}
		for _, a := range archs {
			c := curves[a]
			energy.Series = append(energy.Series, c[0], c[1])
			latency.Series = append(latency.Series, c[2], c[3])
		}
		for name, lp := range map[string]viz.LinePlot{"hwsim-energy": energy, "hwsim-latency": latency} {
			path := filepath.Join(dir, ds+"-"+name+".png")
			if err := lp.WritePNG(path); err != nil {
				return nil, err
			}
			plots = append(plots, path)
		}
	}
	sort.Strings(plots)
	return plots, nil
}

func datasets(pts []point) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pts {
		if !seen[p.ds] {
			seen[p.ds] = true
			out = append(out, p.ds)
		}
	}
	return out
}

func sortedKeys(m map[[2]string]point) [][2]string {
	out := make([][2]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] > out[j][1]
	})
	return out
}

func sortedStrings[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
