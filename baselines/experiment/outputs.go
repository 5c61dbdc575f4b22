package experiment

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
)

// Output files, relative to the run directory.
const (
	TablesFile   = "tables.md"
	CSVFile      = "trials.csv"
	JSONFile     = "trials.json"
	ProtocolFile = "protocol.json"
	Figure3File  = "figure3.png"
	Figure4File  = "figure4.png"
)

// displayModel is a model's name in the paper's tables.
func displayModel(m string) string {
	switch m {
	case ConvAE:
		return "Conv-AE"
	case ConvDAE:
		return "Conv-DAE"
	case NGCFC:
		return "NGC"
	case PCN:
		return "PCN"
	case ConvNGC:
		return "Conv-NGC"
	}
	return m
}

// displayDataset is a data set's name in the tables; CIFAR-10 read from
// the default location is the lossy JPEG copy and says so.
func displayDataset(p Protocol, ds string) string {
	switch ds {
	case data.ColorMNISTName:
		return "Color-MNIST"
	case data.CIFAR10Name:
		if p.Paths[ds] == "" {
			return "CIFAR-10 (JPEG copy)"
		}
		return "CIFAR-10"
	case data.SVHNName:
		return "SVHN"
	case data.CINIC10Name:
		return "CINIC-10"
	}
	return ds
}

// Stat is the mean and sample standard deviation of one metric over trials.
type Stat struct {
	Mean, Std float64
	N         int
}

func stat(v []float64) Stat {
	s := Stat{N: len(v)}
	if s.N == 0 {
		return s
	}
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// format renders "mean ± std" with d decimals ("–" without trials).
func (s Stat) format(d int) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return strconv.FormatFloat(s.Mean, 'f', d, 64)
	}
	return strconv.FormatFloat(s.Mean, 'f', d, 64) + " ± " + strconv.FormatFloat(s.Std, 'f', d, 64)
}

// metric picks one metric of a report.
type metric func(metrics.Report) float64

var (
	mMSE  metric = func(r metrics.Report) float64 { return r.MSE }
	mSSIM metric = func(r metrics.Report) float64 { return r.SSIM }
	mPSNR metric = func(r metrics.Report) float64 { return r.PSNR }
)

// collect returns the statistic of metric f over the trials of model m
// trained on from and evaluated on the test images of to for task.
func collect(trials []Trial, m, from, to, task string, f metric) Stat {
	var v []float64
	for _, t := range trials {
		if t.Model != m || t.Dataset != from {
			continue
		}
		if e, ok := t.find(to, task); ok {
			v = append(v, f(e.Metrics))
		}
	}
	return stat(v)
}

// orderedModels returns p's models in the paper's row order.
func orderedModels(p Protocol) []string {
	var out []string
	for _, m := range ModelNames() {
		if slices.Contains(p.Models, m) {
			out = append(out, m)
		}
	}
	return out
}

// Markdown renders the tables of p from its trials, laid out as the
// paper's Tables 1, 2a and 2b: one block per data set (or pair), one row
// per model, mean ± sample standard deviation over the trials.
func Markdown(p Protocol, trials []Trial) string {
	p = p.withDefaults()
	var b strings.Builder
	models := orderedModels(p)
	noise := fmt.Sprintf("∼ N(0, %g)", p.NoiseStd)
	n := p.Trials
	fmt.Fprintf(&b, "# Paper experiments\n\n")
	fmt.Fprintf(&b, "Mean ± sample standard deviation over %d trial(s) (seeds %d–%d); metrics on outputs rescaled to [0, 255] "+
		"(Eq. 4–6; SSIM is the paper's one-window SSIM). Budget: %s epoch(s) on %s training images per data set, "+
		"%s test images; denoising noise %s%s.\n\n",
		n, p.seed(1), p.seed(n), epochsText(p), capText(p.MaxImages), capText(p.EvalImages), noise, clipText(p))
	if slices.Contains(p.Datasets, data.CIFAR10Name) || slices.ContainsFunc(p.Pairs, func(pr Pair) bool {
		return pr.From == data.CIFAR10Name || pr.To == data.CIFAR10Name
	}) {
		if p.Paths[data.CIFAR10Name] == "" {
			b.WriteString("CIFAR-10 is a third party's lossy JPEG copy (mean MSE ≈ 65 against the original pixels): " +
				"its scores are not the paper's CIFAR-10 scores.\n\n")
		}
	}
	if p.wants(Table1) {
		fmt.Fprintf(&b, "## Table 1: reconstruction and denoising (MSE lower, SSIM higher is better)\n\n")
		for _, ds := range p.Datasets {
			fmt.Fprintf(&b, "| %s | Reconstruction MSE | Reconstruction SSIM | Denoising (%s) MSE | Denoising SSIM |\n", displayDataset(p, ds), noise)
			b.WriteString("|---|---:|---:|---:|---:|\n")
			for _, m := range models {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", displayModel(m),
					collect(trials, m, ds, ds, taskRecon, mMSE).format(4), collect(trials, m, ds, ds, taskRecon, mSSIM).format(4),
					collect(trials, m, ds, ds, taskDenoise, mMSE).format(4), collect(trials, m, ds, ds, taskDenoise, mSSIM).format(4))
			}
			b.WriteString("\n")
		}
	}
	if p.wants(Table2a) {
		fmt.Fprintf(&b, "## Table 2a: reconstruction and denoising PSNR (dB, higher is better)\n\n")
		for _, ds := range p.Datasets {
			fmt.Fprintf(&b, "| %s | Reconstruction PSNR | Denoising (%s) PSNR |\n", displayDataset(p, ds), noise)
			b.WriteString("|---|---:|---:|\n")
			for _, m := range models {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", displayModel(m),
					collect(trials, m, ds, ds, taskRecon, mPSNR).format(4), collect(trials, m, ds, ds, taskDenoise, mPSNR).format(4))
			}
			b.WriteString("\n")
		}
	}
	if p.wants(Table2b) {
		fmt.Fprintf(&b, "## Table 2b: out-of-distribution reconstruction (train on one set, reconstruct another's test images)\n\n")
		for _, pr := range p.Pairs {
			fmt.Fprintf(&b, "| %s to %s | SSIM | PSNR | MSE |\n", displayDataset(p, pr.From), displayDataset(p, pr.To))
			b.WriteString("|---|---:|---:|---:|\n")
			for _, m := range models {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", displayModel(m),
					collect(trials, m, pr.From, pr.To, taskRecon, mSSIM).format(4),
					collect(trials, m, pr.From, pr.To, taskRecon, mPSNR).format(2),
					collect(trials, m, pr.From, pr.To, taskRecon, mMSE).format(2))
			}
			b.WriteString("\n")
		}
	}
	if f3 := figure3Datasets(p); len(f3) > 0 {
		fmt.Fprintf(&b, "## Figures\n\n")
		fmt.Fprintf(&b, "[`%s`](%s) (as the paper's Figure 3): for each of %s, %d test images of trial 1; rows: original, "+
			"corrupted (%s), then the denoised output of %s.\n\n", Figure3File, Figure3File, displayList(p, f3), p.Samples, noise,
			strings.Join(mapNames(orderedModels(p), displayModel), ", "))
		if slices.Contains(p.Models, ConvNGC) {
			fmt.Fprintf(&b, "[`%s`](%s) (as the paper's Figure 4): Conv-NGC's states after reconstructing test images of "+
				"%s (trial 1); per image three rows from the top: the maps of latent layer 2 (8×8), of layer 1 (16×16), "+
				"each normalised to its own range and enlarged to 32×32, and the clamped input.\n\n", Figure4File, Figure4File, displayList(p, f3))
		}
	}
	return b.String()
}

func mapNames(v []string, f func(string) string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = f(s)
	}
	return out
}

func displayList(p Protocol, ds []string) string {
	return strings.Join(mapNames(ds, func(s string) string { return displayDataset(p, s) }), ", ")
}

// epochsText is "3", or "3 (conv-ae: 10)" with per-model epochs.
func epochsText(p Protocol) string {
	s := strconv.Itoa(p.Epochs)
	var extra []string
	for _, m := range orderedModels(p) {
		if n, ok := p.ModelEpochs[m]; ok && n != p.Epochs {
			extra = append(extra, fmt.Sprintf("%s: %d", displayModel(m), n))
		}
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

func capText(n int) string {
	if n == 0 {
		return "all"
	}
	return strconv.Itoa(n)
}

func clipText(p Protocol) string {
	if p.NoClip {
		return ", not clipped"
	}
	return ", clipped to [0, 1]"
}

// figure3Datasets are the data sets with denoising evaluations.
func figure3Datasets(p Protocol) []string {
	if p.wants(Table1) || p.wants(Table2a) {
		return p.Datasets
	}
	return nil
}

// writeOutputs writes the tables, the trials as CSV and JSON, the protocol
// and the figures, and returns their names.
func writeOutputs(dir string, p Protocol, trials []Trial) ([]string, error) {
	var files []string
	write := func(name string, b []byte) error {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("experiment: %w", err)
		}
		files = append(files, name)
		return nil
	}
	if err := write(TablesFile, []byte(Markdown(p, trials))); err != nil {
		return files, err
	}
	var csvb strings.Builder
	if err := writeCSV(&csvb, trials); err != nil {
		return files, err
	}
	if err := write(CSVFile, []byte(csvb.String())); err != nil {
		return files, err
	}
	if err := writeJSONAtomic(filepath.Join(dir, JSONFile), map[string]any{"protocol": p, "trials": trials}); err != nil {
		return files, err
	}
	files = append(files, JSONFile)
	if err := writeJSONAtomic(filepath.Join(dir, ProtocolFile), p); err != nil {
		return files, err
	}
	files = append(files, ProtocolFile)
	made, err := writeFigures(dir, p, trials)
	files = append(files, made...)
	return files, err
}

// CSVHeader is the first line of trials.csv: one row per evaluation.
var CSVHeader = []string{"name", "model", "train_dataset", "trial", "seed", "eval_dataset", "task", "noise_std", "eval_images",
	"mse", "psnr", "ssim", "ssim_gaussian", "params", "train_images", "updates", "train_seconds", "eval_seconds", "key", "eval_key"}

func writeCSV(w *strings.Builder, trials []Trial) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	for _, t := range trials {
		for _, e := range t.Evals {
			rec := []string{t.Name, t.Model, t.Dataset, strconv.Itoa(t.Trial), strconv.FormatUint(t.Train.Seed, 10),
				e.Spec.Dataset, e.Spec.Task, f(e.Spec.NoiseStd), strconv.Itoa(e.Metrics.Images),
				f(e.Metrics.MSE), f(e.Metrics.PSNR), f(e.Metrics.SSIM), f(e.Metrics.SSIMGaussian),
				strconv.Itoa(t.Params), strconv.Itoa(t.Fit.Images), strconv.Itoa(t.Fit.Updates), f(t.Fit.Seconds), f(e.Seconds),
				t.Key, e.Key}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
