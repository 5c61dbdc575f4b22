package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
	"github.com/convngc/convngc/ngc/safetensors"
)

// Trial is the stored record of one trained model and its evaluations:
// DIR/trials/<model>_<dataset>_t<k>-<key>.json.
type Trial struct {
	Name    string     `json:"name"`
	Model   string     `json:"model"`
	Dataset string     `json:"dataset"` // training data set
	Trial   int        `json:"trial"`
	Key     string     `json:"key"` // fingerprint of Train
	Train   TrainSpec  `json:"train_protocol"`
	Params  int        `json:"params"`
	Fit     FitSummary `json:"fit"`
	Evals   []Eval     `json:"evaluations"`
	// Checkpoint is the trained model, relative to the run directory.
	Checkpoint string `json:"checkpoint"`
}

// Eval is one evaluation of a trial's model.
type Eval struct {
	Key     string         `json:"key"` // fingerprint of Spec
	Spec    EvalSpec       `json:"protocol"`
	Metrics metrics.Report `json:"metrics"`
	Seconds float64        `json:"seconds"`
}

// eval returns the evaluation of t with fingerprint key.
func (t *Trial) eval(key string) (Eval, bool) {
	for _, e := range t.Evals {
		if e.Key == key {
			return e, true
		}
	}
	return Eval{}, false
}

// find returns t's evaluation of the test images of dataset for task.
func (t *Trial) find(dataset, task string) (Eval, bool) {
	for _, e := range t.Evals {
		if e.Spec.Dataset == dataset && e.Spec.Task == task {
			return e, true
		}
	}
	return Eval{}, false
}

// Event reports progress.
type Event struct {
	// Job is the 1-based index of the trial in the plan of Jobs trials.
	Job, Jobs int
	// Name is the trial's name, model_dataset_tK.
	Name string
	// Stage is "reuse" (stored and complete: nothing computed), "load"
	// (data), "train", "eval" or "done".
	Stage string
	// Done of Total images of the stage (train and eval).
	Done, Total int
	// Message is a one-line summary (reuse and done), or what is being
	// evaluated (eval).
	Message string
}

// Options control a run.
type Options struct {
	// Dir holds everything: trials/, models/, samples/ and the outputs.
	Dir string
	// Events, when not nil, receives progress.
	Events func(Event)
}

// Results is what Run did.
type Results struct {
	Protocol Protocol `json:"protocol"`
	Trials   []Trial  `json:"trials"`
	// Trained and Evaluated count the models trained and the evaluations
	// computed by this run; Reused the trials taken whole from Dir.
	Trained   int `json:"trained"`
	Evaluated int `json:"evaluated"`
	Reused    int `json:"reused"`
	// Ignored counts trial files in Dir that belong to other protocols.
	Ignored int `json:"ignored"`
	// Files lists the outputs written, relative to Dir.
	Files []string `json:"files"`
}

// Run runs protocol p in opts.Dir: every trial of the plan that is not
// stored there under the same fingerprint is trained and evaluated and
// stored as soon as it is done; then the tables (Markdown), every trial
// (CSV, JSON) and the figures (PNG) are written from all the trials of p.
// A stored trial of another protocol is never used: its fingerprint
// differs. An interrupted run resumes at the first unfinished trial.
func Run(ctx context.Context, p Protocol, opts Options) (*Results, error) {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("experiment: no output directory")
	}
	jobs, err := p.plan()
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"trials", "models", "samples"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("experiment: %w", err)
		}
	}
	r := &runner{p: p, dir: opts.Dir, events: opts.Events, sets: map[string]*data.Set{}}
	res := &Results{Protocol: p}
	if res.Ignored, err = r.foreign(jobs); err != nil {
		return nil, err
	}
	for i, j := range jobs {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("experiment: stopped before %s: %w", j.name(), err)
		}
		t, err := r.job(ctx, i+1, len(jobs), j, res)
		if err != nil {
			return res, fmt.Errorf("experiment: %s: %w", j.name(), err)
		}
		res.Trials = append(res.Trials, *t)
	}
	files, err := writeOutputs(opts.Dir, p, res.Trials)
	res.Files = files
	if err != nil {
		return res, err
	}
	return res, nil
}

type runner struct {
	p      Protocol
	dir    string
	events func(Event)
	sets   map[string]*data.Set
}

func (r *runner) emit(e Event) {
	if r.events != nil {
		r.events(e)
	}
}

func (r *runner) trialPath(j job) string {
	return filepath.Join(r.dir, "trials", j.name()+"-"+j.Key+".json")
}

func (r *runner) modelPath(j job) string {
	return filepath.Join("models", j.name()+"-"+j.Key+".safetensors")
}

func (r *runner) samplesPath(j job) string {
	return filepath.Join(r.dir, "samples", j.name()+"-"+j.Key+".safetensors")
}

// foreign counts the trial files in the directory that no job of the plan
// owns: trials of other protocols, which this run neither uses nor deletes.
func (r *runner) foreign(jobs []job) (int, error) {
	entries, err := os.ReadDir(filepath.Join(r.dir, "trials"))
	if err != nil {
		return 0, fmt.Errorf("experiment: %w", err)
	}
	own := map[string]bool{}
	for _, j := range jobs {
		own[filepath.Base(r.trialPath(j))] = true
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !own[e.Name()] {
			n++
		}
	}
	return n, nil
}

// readTrial returns the stored trial of j, or nil when there is none. A
// file under j's name whose recorded protocol does not hash to j's key is
// an error: it was edited or written by something else.
func (r *runner) readTrial(j job) (*Trial, error) {
	b, err := os.ReadFile(r.trialPath(j))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t Trial
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("stored trial %s: %w", r.trialPath(j), err)
	}
	key, err := fingerprint(t.Train)
	if err != nil {
		return nil, err
	}
	if key != j.Key || t.Key != j.Key {
		return nil, fmt.Errorf("stored trial %s does not match its protocol (key %s, recorded %s, want %s); remove it",
			r.trialPath(j), key, t.Key, j.Key)
	}
	for _, e := range t.Evals {
		if k, err := fingerprint(e.Spec); err != nil || k != e.Key {
			return nil, fmt.Errorf("stored trial %s: evaluation %s does not match its protocol; remove the file", r.trialPath(j), e.Key)
		}
	}
	return &t, nil
}

// job runs or reuses one trial.
func (r *runner) job(ctx context.Context, n, total int, j job, res *Results) (*Trial, error) {
	ev := Event{Job: n, Jobs: total, Name: j.name()}
	t, err := r.readTrial(j)
	if err != nil {
		return nil, err
	}
	var missing []EvalSpec
	for _, e := range j.Evals {
		key, err := fingerprint(e)
		if err != nil {
			return nil, err
		}
		if t == nil {
			missing = append(missing, e)
		} else if _, ok := t.eval(key); !ok {
			missing = append(missing, e)
		}
	}
	if t != nil && len(missing) == 0 {
		res.Reused++
		ev.Stage, ev.Message = "reuse", "stored: "+summary(t, j)
		r.emit(ev)
		return t, nil
	}

	var m *model
	if t != nil {
		if m, err = loadModel(j.Model, filepath.Join(r.dir, t.Checkpoint)); err != nil {
			// The record stays valid, but its model must be trained again
			// (deterministically, from the same seed) to add evaluations.
			t = nil
			missing = j.Evals
		}
	}
	if t == nil && j.Trained != "" {
		if m, err = loadModel(j.Model, j.Trained); err != nil {
			return nil, err
		}
		fit, err := trainedFit(j.Trained)
		if err != nil {
			return nil, err
		}
		t = &Trial{Name: j.name(), Model: j.Model, Dataset: j.Dataset, Trial: j.Trial, Key: j.Key, Train: j.Spec,
			Params: m.params(), Fit: fit, Checkpoint: r.modelPath(j)}
		if err := m.save(filepath.Join(r.dir, t.Checkpoint)); err != nil {
			return nil, err
		}
	}
	if t == nil {
		ev.Stage = "load"
		r.emit(ev)
		train, err := r.load(ctx, j.Dataset, data.Train, r.p.MaxImages)
		if err != nil {
			return nil, err
		}
		if m, err = r.p.newModel(j.Model, j.Trial); err != nil {
			return nil, err
		}
		ev.Stage = "train"
		fit, err := m.fit(ctx, train, j.Spec.Epochs, func(done, all int) {
			ev.Done, ev.Total = done, all
			r.emit(ev)
		})
		if err != nil {
			return nil, err
		}
		res.Trained++
		t = &Trial{Name: j.name(), Model: j.Model, Dataset: j.Dataset, Trial: j.Trial, Key: j.Key, Train: j.Spec,
			Params: m.params(), Fit: fit, Checkpoint: r.modelPath(j)}
		if err := m.save(filepath.Join(r.dir, t.Checkpoint)); err != nil {
			return nil, err
		}
	}
	samples, err := readSamples(r.samplesPath(j))
	if err != nil {
		return nil, err
	}
	for _, e := range missing {
		set, err := r.load(ctx, e.Dataset, data.Test, e.Images)
		if err != nil {
			return nil, err
		}
		task := ngc.Reconstruct
		if e.Task == taskDenoise {
			task = ngc.Denoise
		}
		keep := 0
		if j.Trial == 1 {
			keep = r.p.Samples
		}
		ev.Stage, ev.Message, ev.Done, ev.Total = "eval", e.Task+" "+e.Dataset, 0, set.Len()
		r.emit(ev)
		out, err := m.evaluate(ctx, set, ngc.EvalOptions{Task: task, NoiseStd: e.NoiseStd, NoClip: e.NoClip, Batch: e.Batch,
			Seed: e.Seed, Keep: keep, Progress: func(done, all int) {
				ev.Done, ev.Total = done, all
				r.emit(ev)
			}})
		if err != nil {
			return nil, err
		}
		key, err := fingerprint(e)
		if err != nil {
			return nil, err
		}
		res.Evaluated++
		t.Evals = slices.DeleteFunc(t.Evals, func(x Eval) bool { return x.Spec.Dataset == e.Dataset && x.Spec.Task == e.Task })
		t.Evals = append(t.Evals, Eval{Key: key, Spec: e, Metrics: out.Report, Seconds: out.Seconds})
		if keep > 0 {
			samples.put(e, out, m.latentShapes())
		}
	}
	if j.Trial == 1 {
		if err := samples.write(r.samplesPath(j)); err != nil {
			return nil, err
		}
	}
	if err := writeJSONAtomic(r.trialPath(j), t); err != nil {
		return nil, err
	}
	ev.Stage, ev.Message, ev.Done, ev.Total = "done", summary(t, j), 0, 0
	r.emit(ev)
	return t, nil
}

// trainedFit summarises the training of a given checkpoint: its update
// count, from the checkpoint's metadata.
func trainedFit(path string) (FitSummary, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return FitSummary{}, err
	}
	updates, err := strconv.Atoi(f.Metadata["updates"])
	if err != nil {
		return FitSummary{}, fmt.Errorf("trained checkpoint %s: updates %q", path, f.Metadata["updates"])
	}
	return FitSummary{Updates: updates, Objective: "given checkpoint"}, nil
}

// summary is a one-line account of a trial's evaluations.
func summary(t *Trial, j job) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d updates on %d images (%.0fs)", t.Fit.Updates, t.Fit.Images, t.Fit.Seconds)
	for _, e := range j.Evals {
		if v, ok := t.find(e.Dataset, e.Task); ok {
			fmt.Fprintf(&b, "; %s %s MSE %.2f SSIM %.4f PSNR %.2f", e.Task, e.Dataset, v.Metrics.MSE, v.Metrics.SSIM, v.Metrics.PSNR)
		}
	}
	return b.String()
}

// load returns a data set split, loading each once per run.
func (r *runner) load(ctx context.Context, ds string, split data.Split, maxImages int) (*data.Set, error) {
	key := ds + "|" + split.String() + "|" + strconv.Itoa(maxImages)
	if s, ok := r.sets[key]; ok {
		return s, nil
	}
	s, err := data.Load(ctx, data.Options{Dataset: ds, Path: r.p.Paths[ds], Split: split, MaxImages: maxImages, Seed: r.p.DataSeed})
	if err != nil {
		return nil, err
	}
	r.sets[key] = s
	return s, nil
}

// writeJSONAtomic writes v as indented JSON through a temporary file, so an
// interrupted run never leaves a half-written trial.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// samples holds the sample images of trial 1's evaluations for the
// figures: per evaluation the originals, the inputs, the outputs and
// (Conv-NGC) the states of the bottom layers, all image-major.
type samples struct{ f *safetensors.File }

func readSamples(path string) (*samples, error) {
	f, err := safetensors.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &samples{f: &safetensors.File{Metadata: map[string]string{}}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	if f.Metadata == nil {
		f.Metadata = map[string]string{}
	}
	return &samples{f: f}, nil
}

func sampleName(dataset, task, what string) string { return dataset + "." + task + "." + what }

// put stores the samples of one evaluation; latents gives the shape
// [C, H, W] of the states of layers 1, 2, ... to keep (none for models
// without maps).
func (s *samples) put(e EvalSpec, out ngc.EvalResult, latents [][]int) {
	n := len(out.Original) / data.ImageSize
	prefix := e.Dataset + "." + e.Task + "."
	s.f.Tensors = slices.DeleteFunc(s.f.Tensors, func(t safetensors.Tensor) bool { return strings.HasPrefix(t.Name, prefix) })
	shape := []int{n, data.Channels, data.Height, data.Width}
	add := func(what string, v []float32, shape []int) {
		s.f.Tensors = append(s.f.Tensors, safetensors.Tensor{Name: sampleName(e.Dataset, e.Task, what), Shape: shape, Data: v})
	}
	add("original", out.Original, shape)
	add("input", out.Corrupted, shape)
	add("output", out.Output, shape)
	for l := 1; l < len(out.Latents) && l <= len(latents); l++ {
		sh := append([]int{n}, latents[l-1]...)
		if len(out.Latents[l]) != sh[0]*sh[1]*sh[2]*sh[3] {
			continue
		}
		add("latent."+strconv.Itoa(l), out.Latents[l], sh)
	}
}

func (s *samples) get(dataset, task, what string) (safetensors.Tensor, bool) {
	return s.f.Get(sampleName(dataset, task, what))
}

func (s *samples) write(path string) error {
	if len(s.f.Tensors) == 0 {
		return nil
	}
	if err := safetensors.WriteFile(path, s.f); err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	return nil
}
