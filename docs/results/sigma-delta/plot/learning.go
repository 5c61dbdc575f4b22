package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/convngc/convngc/ngc/viz"
)

// learnReport is what the plot reads of an `ngc run --learn` report.
type learnReport struct {
	Mode     string `json:"mode"`
	Encoding string `json:"encoding"`
	Curve    []struct {
		ImageUpdates int     `json:"image_updates"`
		Messages     float64 `json:"messages"`
		Bytes        float64 `json:"bytes"`
		SynapticOps  float64 `json:"synaptic_ops"`
		Seconds      float64 `json:"seconds"`
		MSE          float64 `json:"mse"`
	} `json:"curve"`
	Runtime struct {
		ImagesPerSecond float64 `json:"images_per_second"`
		Async           *struct {
			MeanStateLag float64 `json:"mean_state_lag"`
			MaxStateLag  int     `json:"max_state_lag"`
		} `json:"async"`
	} `json:"runtime"`
}

// testReport is what the plot reads of an `ngc eval` report.
type testReport struct {
	Result struct {
		Metrics struct {
			MSE  float64 `json:"mse"`
			SSIM float64 `json:"ssim"`
		} `json:"metrics"`
	} `json:"result"`
}

// learningPlots gathers learning.sh's runs in dir.
func learningPlots(dir string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	type run struct {
		name string
		r    learnReport
		test *testReport
	}
	var runs []run
	for _, f := range files {
		if strings.HasSuffix(f, "-test.json") {
			continue
		}
		var r learnReport
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &r); err != nil || len(r.Curve) == 0 {
			continue
		}
		ru := run{name: strings.TrimSuffix(filepath.Base(f), ".json"), r: r}
		if b, err := os.ReadFile(strings.TrimSuffix(f, ".json") + "-test.json"); err == nil {
			var t testReport
			if json.Unmarshal(b, &t) == nil {
				ru.test = &t
			}
		}
		runs = append(runs, ru)
	}
	if len(runs) == 0 {
		return fmt.Errorf("no learning reports in %s", dir)
	}
	order := []string{"sync", "async-lag0", "async-lag2", "async-lag8", "async-lag2-delay", "sync-sd", "async-lag2-sd",
		"sync-untied", "async-lag2-untied", "sync-sd-untied"}
	rank := func(n string) int {
		for i, o := range order {
			if o == n {
				return i
			}
		}
		return len(order)
	}
	sort.Slice(runs, func(i, j int) bool { return rank(runs[i].name) < rank(runs[j].name) })
	var md strings.Builder
	md.WriteString("| configuration | encoding | validation MSE: start → end | test MSE / SSIM | messages | bytes | synaptic ops | wall time | img/s | state lag mean / max |\n|---|---|---|---|---|---|---|---|---|---|\n")
	plots := map[string]*viz.LinePlot{
		"updates":  {Title: "learning: validation MSE against image-updates", XLabel: "image-updates", YLabel: "validation MSE ([0,255])", LogY: true},
		"messages": {Title: "learning: validation MSE against messages", XLabel: "frames sent (millions)", YLabel: "validation MSE ([0,255])", LogY: true},
		"bytes":    {Title: "learning: validation MSE against bytes", XLabel: "GiB sent (uncompressed)", YLabel: "validation MSE ([0,255])", LogY: true},
		"time":     {Title: "learning: validation MSE against wall time", XLabel: "seconds of training (validation left out)", YLabel: "validation MSE ([0,255])", LogY: true},
	}
	for _, ru := range runs {
		c := ru.r.Curve
		last := c[len(c)-1]
		test, lag := "", ""
		if ru.test != nil {
			test = fmt.Sprintf("%.2f / %.4f", ru.test.Result.Metrics.MSE, ru.test.Result.Metrics.SSIM)
		}
		if a := ru.r.Runtime.Async; a != nil {
			lag = fmt.Sprintf("%.2f / %d", a.MeanStateLag, a.MaxStateLag)
		}
		fmt.Fprintf(&md, "| %s | %s | %.1f → %.2f | %s | %.3g | %.3g GiB | %.3g | %.0f s | %.1f | %s |\n", ru.name, ru.r.Encoding, c[0].MSE, last.MSE, test,
			last.Messages, last.Bytes/(1<<30), last.SynapticOps, last.Seconds, ru.r.Runtime.ImagesPerSecond, lag)
		// A configuration and its untied variant share a colour; untied is dashed.
		base := strings.TrimSuffix(ru.name, "-untied")
		series := map[string]*viz.Series{}
		for k := range plots {
			series[k] = &viz.Series{Name: ru.name, Hue: rank(base) + 1, Dashed: base != ru.name}
		}
		for _, p := range c {
			add := func(k string, x float64) {
				series[k].X, series[k].Y = append(series[k].X, x), append(series[k].Y, p.MSE)
			}
			add("updates", float64(p.ImageUpdates))
			add("messages", p.Messages/1e6)
			add("bytes", p.Bytes/(1<<30))
			add("time", p.Seconds)
		}
		for k, lp := range plots {
			lp.Series = append(lp.Series, *series[k])
		}
	}
	// The gap: each configuration's validation MSE relative to its
	// synchronous dense reference (sync, or sync-untied for the untied
	// runs) at the same image-updates, where the curves separate.
	gap := &viz.LinePlot{Title: "learning: validation MSE against sync's, same image-updates",
		XLabel: "image-updates", YLabel: "MSE / sync's MSE − 1 (%)"}
	curves := map[string]map[int]float64{}
	for _, ru := range runs {
		m := map[int]float64{}
		for _, p := range ru.r.Curve {
			m[p.ImageUpdates] = p.MSE
		}
		curves[ru.name] = m
	}
	for _, ru := range runs {
		base := strings.TrimSuffix(ru.name, "-untied")
		ref := "sync"
		if base != ru.name {
			ref = "sync-untied"
		}
		if ru.name == ref || curves[ref] == nil {
			continue
		}
		se := viz.Series{Name: ru.name, Hue: rank(base) + 1, Dashed: base != ru.name}
		for _, p := range ru.r.Curve {
			if r, ok := curves[ref][p.ImageUpdates]; ok && r > 0 {
				se.X, se.Y = append(se.X, float64(p.ImageUpdates)), append(se.Y, 100*(p.MSE/r-1))
			}
		}
		gap.Series = append(gap.Series, se)
	}
	if len(gap.Series) > 0 {
		plots["gap"] = gap
	}
	var paths []string
	for k, lp := range plots {
		path := filepath.Join(dir, "learning-mse-"+k+".png")
		if err := lp.WritePNG(path); err != nil {
			return err
		}
		paths = append(paths, path)
	}
	sort.Strings(paths)
	if err := os.WriteFile(filepath.Join(dir, "learning.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	fmt.Printf("\nwrote %s and %s\n", filepath.Join(dir, "learning.md"), strings.Join(paths, ", "))
	return nil
}
