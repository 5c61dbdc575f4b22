package experiment

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convngc/convngc/baselines"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

func TestParsePair(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Pair
		wantErr bool
	}{
		{"color-mnist:cifar10", Pair{"color-mnist", "cifar10"}, false},
		{"svhn:cinic10", Pair{"svhn", "cinic10"}, false},
		{"cifar10", Pair{}, true},
		{":cifar10", Pair{}, true},
		{"cifar10:", Pair{}, true},
		{"", Pair{}, true},
	} {
		got, err := ParsePair(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParsePair(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("Pair.String() = %q, want %q", got.String(), tc.in)
		}
	}
}

// tiny is a protocol of small models that trains in well under a second
// per trial on the synthetic image folders of writeFolders.
func tiny(dir string) Protocol {
	return Protocol{
		Tables: []string{Table1, Table2a}, Trials: 2,
		Datasets: []string{"folder", "cinic10"}, Models: []string{ConvAE, ConvDAE, NGCFC, ConvNGC},
		Pairs: []Pair{{"folder", "cinic10"}}, Epochs: 1, Seed: 7, DataSeed: 3, Samples: 3,
		Paths:   map[string]string{"folder": filepath.Join(dir, "folder"), "cinic10": filepath.Join(dir, "cinic10")},
		ConvNGC: ngc.Config{Channels: []int{3, 4, 3}, Steps: 3, Batch: 8},
		AE:      baselines.AEConfig{Maps: 4, Batch: 8, LearningRate: 1e-3, BNMomentum: 0.9},
		FC:      baselines.NGCConfig{Units: []int{8, 16, 3072}, Steps: 3, Batch: 8},
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Protocol)
		ok     bool
	}{
		{"tiny", func(*Protocol) {}, true},
		{"no table", func(p *Protocol) { p.Tables = nil }, false},
		{"unknown table", func(p *Protocol) { p.Tables = []string{"3"} }, false},
		{"duplicate table", func(p *Protocol) { p.Tables = []string{"1", "1"} }, false},
		{"no model", func(p *Protocol) { p.Models = nil }, false},
		{"unknown model", func(p *Protocol) { p.Models = []string{"vae"} }, false},
		{"pcn", func(p *Protocol) { p.Models = []string{PCN} }, true},
		{"no data set", func(p *Protocol) { p.Datasets = nil }, false},
		{"unknown data set", func(p *Protocol) { p.Datasets = []string{"imagenet"} }, false},
		{"2b without pairs", func(p *Protocol) { p.Tables = []string{Table2b}; p.Pairs = nil }, false},
		{"2b only needs no data sets", func(p *Protocol) { p.Tables = []string{Table2b}; p.Datasets = nil }, true},
		{"bad pair", func(p *Protocol) { p.Tables = []string{Table2b}; p.Pairs = []Pair{{"folder", "mars"}} }, false},
		{"duplicate pair", func(p *Protocol) {
			p.Tables = []string{Table2b}
			p.Pairs = []Pair{{"folder", "cinic10"}, {"folder", "cinic10"}}
		}, false},
		{"zero trials", func(p *Protocol) { p.Trials = 0 }, false},
		{"zero epochs", func(p *Protocol) { p.Epochs = 0 }, false},
		{"negative cap", func(p *Protocol) { p.MaxImages = -1 }, false},
		{"NaN noise", func(p *Protocol) { p.NoiseStd = math.NaN() }, false},
		{"path of unknown set", func(p *Protocol) { p.Paths["mars"] = "/x" }, false},
		{"bad Conv-NGC config", func(p *Protocol) { p.ConvNGC.Channels = []int{3} }, false},
		{"bad AE config", func(p *Protocol) { p.AE.Loss = "hinge" }, false},
		{"bad FC config", func(p *Protocol) { p.FC.Units = []int{5} }, false},
		{"NaN Conv-NGC beta", func(p *Protocol) { p.ConvNGC.Beta = math.NaN() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tiny(t.TempDir())
			tc.change(&p)
			err := p.withDefaults().Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrProtocol) {
				t.Errorf("error %v does not wrap ErrProtocol", err)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tables []string
		jobs   int // models × training sets × trials
		evals  map[string][]string
	}{
		{"table 1", []string{Table1}, 4 * 2 * 2, map[string][]string{
			"folder": {"folder/reconstruct", "folder/denoise"}, "cinic10": {"cinic10/reconstruct", "cinic10/denoise"}}},
		{"table 2a alone needs the same", []string{Table2a}, 4 * 2 * 2, map[string][]string{
			"folder": {"folder/reconstruct", "folder/denoise"}, "cinic10": {"cinic10/reconstruct", "cinic10/denoise"}}},
		{"table 2b trains the source only", []string{Table2b}, 4 * 1 * 2, map[string][]string{
			"folder": {"cinic10/reconstruct"}}},
		{"all share the models", []string{Table1, Table2a, Table2b}, 4 * 2 * 2, map[string][]string{
			"folder":  {"folder/reconstruct", "folder/denoise", "cinic10/reconstruct"},
			"cinic10": {"cinic10/reconstruct", "cinic10/denoise"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tiny(t.TempDir())
			p.Tables = tc.tables
			jobs, err := p.withDefaults().plan()
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != tc.jobs {
				t.Fatalf("%d jobs, want %d", len(jobs), tc.jobs)
			}
			keys := map[string]bool{}
			for i, j := range jobs {
				if keys[j.Key] {
					t.Errorf("job %s: key %s repeats", j.name(), j.Key)
				}
				keys[j.Key] = true
				var got []string
				for _, e := range j.Evals {
					got = append(got, e.Dataset+"/"+e.Task)
					if e.Seed != p.seed(j.Trial) {
						t.Errorf("job %s: evaluation seed %d, want %d", j.name(), e.Seed, p.seed(j.Trial))
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.evals[j.Dataset]) {
					t.Errorf("job %s evaluates %v, want %v", j.name(), got, tc.evals[j.Dataset])
				}
				// Trials are outermost: all of trial 1 before trial 2.
				if i > 0 && j.Trial < jobs[i-1].Trial {
					t.Errorf("job %d (%s) after trial %d", i, j.name(), jobs[i-1].Trial)
				}
			}
		})
	}
}

func TestStat(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		mean float64
		std  float64
		text string
	}{
		{nil, 0, 0, "–"},
		{[]float64{2.5}, 2.5, 0, "2.50"},
		{[]float64{1, 3}, 2, math.Sqrt2, "2.00 ± 1.41"},
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7), "5.00 ± 2.14"},
	} {
		s := stat(tc.v)
		if math.Abs(s.Mean-tc.mean) > 1e-12 || math.Abs(s.Std-tc.std) > 1e-12 || s.format(2) != tc.text {
			t.Errorf("stat(%v) = %+v %q, want mean %g std %g %q", tc.v, s, s.format(2), tc.mean, tc.std, tc.text)
		}
	}
}

// writeFolders writes two small image trees of synthetic colour ramps
// and blobs: folder/{train,test}/<class> and cinic10/{train,valid,test}/<class>.
func writeFolders(t *testing.T, dir string) {
	t.Helper()
	write := func(path string, k int) {
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				r := uint8((x*8 + k*13) % 256)
				g := uint8((y*8 + k*29) % 256)
				b := uint8(0)
				if (x-16)*(x-16)+(y-16)*(y-16) < 30+k%40 {
					b = 220
				}
				img.Set(x, y, color.RGBA{r, g, b, 255})
			}
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	k := 0
	for _, tree := range []struct {
		root   string
		splits map[string]int
	}{
		{"folder", map[string]int{"train": 24, "test": 10}},
		{"cinic10", map[string]int{"train": 16, "valid": 4, "test": 10}},
	} {
		for split, n := range tree.splits {
			for i := 0; i < n; i++ {
				k++
				write(filepath.Join(dir, tree.root, split, fmt.Sprintf("class%d", i%2), fmt.Sprintf("%03d.png", i)), k)
			}
		}
	}
}

// TestRunResumable runs a whole protocol on synthetic data, checks the
// tables, CSV, JSON and figures, then runs it again (nothing is computed),
// extends it (stored models are loaded, not trained), changes it (nothing
// is reused) and tampers with a trial (refused).
func TestRunResumable(t *testing.T) {
	dir := t.TempDir()
	writeFolders(t, dir)
	out := filepath.Join(dir, "out")
	ctx := context.Background()
	p := tiny(dir)
	var stages []string
	res, err := Run(ctx, p, Options{Dir: out, Events: func(e Event) {
		if e.Stage == "done" || e.Stage == "reuse" {
			stages = append(stages, e.Stage)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	const jobs = 4 * 2 * 2
	if res.Trained != jobs || res.Evaluated != 2*jobs || res.Reused != 0 || len(res.Trials) != jobs || len(stages) != jobs {
		t.Fatalf("first run: trained %d, evaluated %d, reused %d, %d trials, %d events", res.Trained, res.Evaluated, res.Reused, len(res.Trials), len(stages))
	}
	for _, f := range []string{TablesFile, CSVFile, JSONFile, ProtocolFile, Figure3File, Figure4File} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("missing output %s: %v", f, err)
		}
	}
	md := readFile(t, filepath.Join(out, TablesFile))
	checkTables(t, md, []string{"folder", "CINIC-10"}, []string{"Conv-AE", "Conv-DAE", "NGC", "Conv-NGC"}, 2)
	if strings.Contains(md, "Table 2b") {
		t.Error("tables.md has Table 2b, which was not asked for")
	}
	rows := readCSV(t, filepath.Join(out, CSVFile))
	if len(rows) != 1+2*jobs || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("trials.csv: %d rows, header %v", len(rows), rows[0])
	}
	checkFigure(t, filepath.Join(out, Figure3File), 2*(2+4)+1)
	checkFigure(t, filepath.Join(out, Figure4File), 2*2*3+3)

	// The same protocol again: nothing is computed, the tables are the same.
	stages = nil
	res, err = Run(ctx, p, Options{Dir: out, Events: func(e Event) { stages = append(stages, e.Stage) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != 0 || res.Evaluated != 0 || res.Reused != jobs || res.Ignored != 0 {
		t.Fatalf("second run: trained %d, evaluated %d, reused %d, ignored %d", res.Trained, res.Evaluated, res.Reused, res.Ignored)
	}
	for _, s := range stages {
		if s != "reuse" {
			t.Fatalf("second run had a %q stage", s)
		}
	}
	if md2 := readFile(t, filepath.Join(out, TablesFile)); md2 != md {
		t.Errorf("tables changed on a rerun:\n%s\nthen\n%s", md, md2)
	}

	// Adding Table 2b: the folder models are loaded and evaluated on
	// cinic10's test images; nothing is trained.
	p2 := p
	p2.Tables = []string{Table1, Table2a, Table2b}
	res, err = Run(ctx, p2, Options{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != 0 || res.Evaluated != 4*2 || res.Reused != 4*2 {
		t.Fatalf("extended run: trained %d, evaluated %d, reused %d", res.Trained, res.Evaluated, res.Reused)
	}
	md = readFile(t, filepath.Join(out, TablesFile))
	if !strings.Contains(md, "| folder to CINIC-10 | SSIM | PSNR | MSE |") {
		t.Errorf("no table 2b block:\n%s", md)
	}

	// A changed protocol (one more epoch) reuses nothing and says so.
	p3 := p
	p3.Epochs = 2
	res, err = Run(ctx, p3, Options{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != jobs || res.Reused != 0 || res.Ignored != jobs {
		t.Fatalf("changed protocol: trained %d, reused %d, ignored %d", res.Trained, res.Reused, res.Ignored)
	}

	// A stored trial edited by hand is refused, not silently used.
	jobsList, err := p3.withDefaults().plan()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, "trials", jobsList[0].name()+"-"+jobsList[0].Key+".json")
	b := readFile(t, path)
	if err := os.WriteFile(path, []byte(strings.Replace(b, `"epochs": 2`, `"epochs": 3`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, p3, Options{Dir: out}); err == nil || !strings.Contains(err.Error(), "does not match its protocol") {
		t.Errorf("tampered trial: %v", err)
	}
}

// TestRunInterrupted: a cancelled run keeps the trials it finished and
// the next run resumes from there.
func TestRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	writeFolders(t, dir)
	out := filepath.Join(dir, "out")
	p := tiny(dir)
	p.Tables, p.Trials, p.Datasets = []string{Table1}, 1, []string{"folder"}
	ctx, cancel := context.WithCancel(context.Background())
	done := 0
	_, err := Run(ctx, p, Options{Dir: out, Events: func(e Event) {
		if e.Stage == "done" {
			if done++; done == 2 {
				cancel()
			}
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	res, err := Run(context.Background(), p, Options{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reused != 2 || res.Trained != 2 {
		t.Errorf("resumed run: reused %d, trained %d; want 2 and 2", res.Reused, res.Trained)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		p    Protocol
		opts Options
	}{
		{"no directory", tiny(dir), Options{}},
		{"invalid protocol", Protocol{Tables: []string{"9"}}, Options{Dir: dir}},
		{"missing data", func() Protocol { p := tiny(dir); p.Paths["folder"] = filepath.Join(dir, "nothing"); return p }(), Options{Dir: dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.p, tc.opts); err == nil {
				t.Error("no error")
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkTables checks the paper's layout: for Table 1 and 2a one block per
// data set with a header, a separator and one row per model, in order,
// each cell "mean ± std" of trials trials.
func checkTables(t *testing.T, md string, datasets, models []string, trials int) {
	t.Helper()
	for _, table := range []struct {
		title  string
		header string
		cells  int
	}{
		{"## Table 1", "| %s | Reconstruction MSE | Reconstruction SSIM | Denoising (∼ N(0, 0.1)) MSE | Denoising SSIM |", 4},
		{"## Table 2a", "| %s | Reconstruction PSNR | Denoising (∼ N(0, 0.1)) PSNR |", 2},
	} {
		i := strings.Index(md, table.title)
		if i < 0 {
			t.Fatalf("no %q in\n%s", table.title, md)
		}
		lines := strings.Split(md[i:], "\n")
		at := 0
		for _, ds := range datasets {
			h := fmt.Sprintf(table.header, ds)
			for at < len(lines) && lines[at] != h {
				at++
			}
			if at+1+len(models) >= len(lines) {
				t.Fatalf("%s: no block %q in\n%s", table.title, h, md)
			}
			for k, m := range models {
				cells := strings.Split(strings.Trim(lines[at+2+k], "| "), " | ")
				if cells[0] != m || len(cells) != 1+table.cells {
					t.Errorf("%s %s row %d: %q", table.title, ds, k, lines[at+2+k])
					continue
				}
				for _, c := range cells[1:] {
					if trials > 1 && strings.Count(c, " ± ") != 1 {
						t.Errorf("%s %s %s: cell %q is not mean ± std", table.title, ds, m, c)
					}
				}
			}
		}
	}
}

// checkFigure checks that a PNG decodes and is tall enough for rows rows.
func checkFigure(t *testing.T, path string, rows int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if h := img.Bounds().Dy(); h < rows*32 {
		t.Errorf("%s is %d pixels tall, want at least %d rows of 32", path, h, rows)
	}
}

// TestRunTrainedCheckpoint: a checkpoint given in Trained is evaluated as
// the model's only trial, never trained; replacing the checkpoint makes a
// new trial.
func TestRunTrainedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	writeFolders(t, dir)
	out := filepath.Join(dir, "out")
	p := tiny(dir)
	p.Tables, p.Datasets, p.Models = []string{Table1}, []string{"folder"}, []string{ConvAE, ConvNGC}
	m, err := ngc.New(ngc.Config{Channels: []int{3, 4, 3}, Steps: 3, Batch: 8, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "given.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	p.Trained = map[string]string{"conv-ngc:folder": ckpt}
	res, err := Run(context.Background(), p, Options{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != 2 || len(res.Trials) != 3 { // Conv-AE twice, Conv-NGC once, given
		t.Fatalf("trained %d models, %d trials; want 2 and 3", res.Trained, len(res.Trials))
	}
	var given *Trial
	for i := range res.Trials {
		if res.Trials[i].Model == ConvNGC {
			given = &res.Trials[i]
		}
	}
	if given == nil || given.Train.Checkpoint == "" || given.Train.Epochs != 0 || len(given.Evals) != 2 {
		t.Fatalf("the given checkpoint's trial: %+v", given)
	}
	// Evaluating the checkpoint directly gives the trial's figure.
	set, err := (&runner{p: p, sets: map[string]*data.Set{}}).load(context.Background(), "folder", data.Test, p.EvalImages)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := m.Evaluate(context.Background(), set, ngc.EvalOptions{Task: ngc.Reconstruct, Seed: p.seed(1)})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := given.find("folder", taskRecon); !ok || e.Metrics.MSE != direct.Report.MSE {
		t.Errorf("trial MSE %v, direct evaluation %v", e.Metrics.MSE, direct.Report.MSE)
	}
	// A different checkpoint under the same path is a new trial.
	m2, _ := ngc.New(ngc.Config{Channels: []int{3, 4, 3}, Steps: 3, Batch: 8, Seed: 100})
	if err := m2.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	res, err = Run(context.Background(), p, Options{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != 0 || res.Reused != 2 || res.Evaluated != 2 {
		t.Fatalf("new checkpoint: trained %d, reused %d, evaluated %d; want 0, 2, 2", res.Trained, res.Reused, res.Evaluated)
	}
	p.Trained = map[string]string{"conv-ngc:cifar10": ckpt}
	if err := p.Validate(); err == nil {
		t.Error("a trained model for a data set outside the protocol was accepted")
	}
}
