package experiment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/convngc/convngc/baselines"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// ErrProtocol reports a protocol that cannot be run.
var ErrProtocol = errors.New("experiment: invalid protocol")

// Model names understood by the runner.
const (
	ConvNGC = "conv-ngc" // Conv-NGC, package ngc
	ConvAE  = "conv-ae"  // convolutional autoencoder, package baselines
	ConvDAE = "conv-dae" // convolutional denoising autoencoder
	NGCFC   = "ngc-fc"   // fully connected NGC
	PCN     = "pcn"      // fully connected NGC with φ' in the correction
)

// ModelNames returns the model names in the order of the paper's tables.
func ModelNames() []string { return []string{ConvAE, ConvDAE, NGCFC, PCN, ConvNGC} }

// The paper's tables.
const (
	Table1  = "1"  // reconstruction and denoising MSE and SSIM
	Table2a = "2a" // reconstruction and denoising PSNR
	Table2b = "2b" // out-of-distribution reconstruction SSIM, PSNR, MSE
)

// TableNames returns the tables the runner produces.
func TableNames() []string { return []string{Table1, Table2a, Table2b} }

// Task names as they appear in trial records ("reconstruct", "denoise").
var (
	taskRecon   = ngc.Reconstruct.String()
	taskDenoise = ngc.Denoise.String()
)

// Pair is an out-of-distribution pair of Table 2b: models trained on From
// reconstruct the test images of To.
type Pair struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// String formats p as "from:to", the form ParsePair reads.
func (p Pair) String() string { return p.From + ":" + p.To }

// ParsePair parses "from:to", two data set names.
func ParsePair(s string) (Pair, error) {
	from, to, ok := strings.Cut(s, ":")
	if !ok || from == "" || to == "" {
		return Pair{}, fmt.Errorf("%w: pair %q: want FROM:TO, for example color-mnist:cifar10", ErrProtocol, s)
	}
	return Pair{From: from, To: to}, nil
}

// Protocol is everything that decides an experiment's numbers: which
// tables, models, data sets and pairs, how many trials, the training and
// evaluation budget, the seeds and the models' settings. Two runs of one
// protocol give the same trials; the runner reuses a stored trial only when
// the part of the protocol that made it is unchanged.
type Protocol struct {
	// Tables to produce: Table1, Table2a and/or Table2b.
	Tables []string `json:"tables"`
	// Trials per model and data set (the paper: 5). Trial k (1-based)
	// initialises, shuffles and draws noise from Seed+k−1.
	Trials int `json:"trials"`
	// Datasets of Tables 1 and 2a: each model trains on a data set's
	// training split and is evaluated on its test split.
	Datasets []string `json:"datasets"`
	// Models to compare (see ModelNames).
	Models []string `json:"models"`
	// Pairs of Table 2b.
	Pairs []Pair `json:"pairs"`
	// Epochs of training, for every model without an entry in
	// ModelEpochs.
	Epochs int `json:"epochs"`
	// ModelEpochs overrides Epochs by model name (cheap models can be
	// given more passes within one time budget).
	ModelEpochs map[string]int `json:"model_epochs,omitempty"`
	// MaxImages caps the training images of each data set (0: all).
	MaxImages int `json:"max_images"`
	// EvalImages caps the test images of each data set (0: all).
	EvalImages int `json:"eval_images"`
	// DataSeed fixes the validation hold-out, the image subsets and the
	// Color-MNIST colours; the same for every trial.
	DataSeed int64 `json:"data_seed"`
	// Seed of trial 1 (see Trials).
	Seed uint64 `json:"seed"`
	// NoiseStd is the std of the denoising corruption on [0, 1] pixels
	// (0.1); NoClip keeps corrupted pixels outside [0, 1].
	NoiseStd float64 `json:"noise_std"`
	NoClip   bool    `json:"no_clip"`
	// EvalBatch is the evaluation mini-batch (0: each model's training
	// batch). It changes the draws of the initial states of the NGC models.
	EvalBatch int `json:"eval_batch"`
	// Paths gives a data set's location (data.Options.Path) by name; a
	// missing name uses the loader's default.
	Paths map[string]string `json:"paths,omitempty"`
	// ConvNGC, AE and FC configure Conv-NGC, the two autoencoders and the
	// fully connected NGC (and PCN); zero fields are the paper's values.
	// Their Seed fields are ignored: every trial sets its own.
	ConvNGC ngc.Config          `json:"conv_ngc"`
	AE      baselines.AEConfig  `json:"autoencoder"`
	FC      baselines.NGCConfig `json:"ngc_fc"`
	// Samples is how many test images of trial 1 are kept for the figures
	// (4).
	Samples int `json:"samples"`
	// Trained gives, by "model:dataset", a checkpoint of that model already
	// trained on that data set (for example by a long `ngc train` job run
	// to convergence): its trial 1 evaluates the checkpoint instead of
	// training, and it has no further trials. The trial's fingerprint
	// covers the checkpoint's SHA-256, so a new checkpoint is evaluated
	// again.
	Trained map[string]string `json:"trained,omitempty"`
}

// trainedKey is the key of Protocol.Trained for a model and a data set.
func trainedKey(model, dataset string) string { return model + ":" + dataset }

// Validate reports what is wrong with p, wrapping ErrProtocol, or nil.
func (p Protocol) Validate() error {
	if len(p.Tables) == 0 {
		return fmt.Errorf("%w: no table (want %s)", ErrProtocol, strings.Join(TableNames(), ", "))
	}
	if err := unique("table", p.Tables, TableNames()); err != nil {
		return err
	}
	if len(p.Models) == 0 {
		return fmt.Errorf("%w: no model (want some of %s)", ErrProtocol, strings.Join(ModelNames(), ", "))
	}
	if err := unique("model", p.Models, ModelNames()); err != nil {
		return err
	}
	names := data.DatasetNames()
	if p.wants(Table1) || p.wants(Table2a) {
		if len(p.Datasets) == 0 {
			return fmt.Errorf("%w: tables 1 and 2a need at least one data set", ErrProtocol)
		}
		if err := unique("data set", p.Datasets, names); err != nil {
			return err
		}
	}
	if p.wants(Table2b) {
		if len(p.Pairs) == 0 {
			return fmt.Errorf("%w: table 2b needs at least one FROM:TO pair", ErrProtocol)
		}
		seen := map[Pair]bool{}
		for _, pr := range p.Pairs {
			if !slices.Contains(names, pr.From) || !slices.Contains(names, pr.To) {
				return fmt.Errorf("%w: pair %s: data sets must be among %s", ErrProtocol, pr, strings.Join(names, ", "))
			}
			if seen[pr] {
				return fmt.Errorf("%w: pair %s given twice", ErrProtocol, pr)
			}
			seen[pr] = true
		}
	}
	for name, n := range p.ModelEpochs {
		if !slices.Contains(ModelNames(), name) || n < 1 {
			return fmt.Errorf("%w: epochs %d for model %q (want a known model and at least 1)", ErrProtocol, n, name)
		}
	}
	for key, path := range p.Trained {
		m, ds, ok := strings.Cut(key, ":")
		if !ok || !slices.Contains(p.Models, m) || !slices.Contains(p.trainSets(), ds) {
			return fmt.Errorf("%w: trained model %q: want MODEL:DATASET with a model and a training data set of the protocol", ErrProtocol, key)
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w: trained model %s: %v", ErrProtocol, key, err)
		}
	}
	for name := range p.Paths {
		if !slices.Contains(names, name) {
			return fmt.Errorf("%w: path given for unknown data set %q", ErrProtocol, name)
		}
	}
	switch {
	case p.Trials < 1 || p.Trials > 1000:
		return fmt.Errorf("%w: %d trials (want 1 to 1000)", ErrProtocol, p.Trials)
	case p.Epochs < 1:
		return fmt.Errorf("%w: %d epochs (want at least 1)", ErrProtocol, p.Epochs)
	case p.MaxImages < 0 || p.EvalImages < 0 || p.EvalBatch < 0 || p.Samples < 0:
		return fmt.Errorf("%w: image caps, evaluation batch and samples must not be negative", ErrProtocol)
	case !(p.NoiseStd >= 0) || p.NoiseStd > 10:
		return fmt.Errorf("%w: noise std %g (want 0 to 10; 0 means 0.1)", ErrProtocol, p.NoiseStd)
	}
	// Every model configuration must build.
	for _, m := range p.Models {
		if _, err := p.trainConfig(m, 1); err != nil {
			return err
		}
	}
	return nil
}

// withDefaults fills the zero values that stand for a default.
func (p Protocol) withDefaults() Protocol {
	if p.NoiseStd == 0 {
		p.NoiseStd = 0.1
	}
	if p.Samples == 0 {
		p.Samples = 4
	}
	return p
}

func unique(what string, got, allowed []string) error {
	seen := map[string]bool{}
	for _, g := range got {
		if !slices.Contains(allowed, g) {
			return fmt.Errorf("%w: unknown %s %q (want one of %s)", ErrProtocol, what, g, strings.Join(allowed, ", "))
		}
		if seen[g] {
			return fmt.Errorf("%w: %s %q given twice", ErrProtocol, what, g)
		}
		seen[g] = true
	}
	return nil
}

func (p Protocol) wants(table string) bool { return slices.Contains(p.Tables, table) }

// epochs returns the training epochs of model m.
func (p Protocol) epochs(m string) int {
	if n, ok := p.ModelEpochs[m]; ok {
		return n
	}
	return p.Epochs
}

// seed returns the seed of trial k (1-based).
func (p Protocol) seed(k int) uint64 { return p.Seed + uint64(k-1) }

// trainConfig returns the resolved configuration of model m in trial k, as
// JSON: what the trial's fingerprint covers of the model.
func (p Protocol) trainConfig(m string, k int) (json.RawMessage, error) {
	mod, err := p.newModel(m, k)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(mod.config())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrProtocol, m, err)
	}
	return b, nil
}

// TrainSpec is what decides a trained model: a trial's fingerprint is the
// hash of its JSON.
type TrainSpec struct {
	Model     string          `json:"model"`
	Dataset   string          `json:"dataset"`
	Path      string          `json:"path"`
	DataSeed  int64           `json:"data_seed"`
	MaxImages int             `json:"max_images"`
	Epochs    int             `json:"epochs"`
	Seed      uint64          `json:"seed"`
	Config    json.RawMessage `json:"config"`
	// Checkpoint is the SHA-256 of a trained checkpoint evaluated instead
	// of training (Protocol.Trained); "" for a model the trial trains.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// EvalSpec is what decides one evaluation of a trained model.
type EvalSpec struct {
	Dataset  string  `json:"dataset"`
	Path     string  `json:"path"`
	DataSeed int64   `json:"data_seed"`
	Images   int     `json:"images"`
	Task     string  `json:"task"`
	NoiseStd float64 `json:"noise_std"`
	NoClip   bool    `json:"no_clip"`
	Seed     uint64  `json:"seed"`
	Batch    int     `json:"batch"`
}

// fingerprint is the first 12 hex digits of the SHA-256 of v's JSON.
func fingerprint(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: fingerprint: %v", ErrProtocol, err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:6]), nil
}

// job is one trained model and the evaluations the tables need of it.
type job struct {
	Model, Dataset string
	Trial          int
	Spec           TrainSpec
	Key            string
	Evals          []EvalSpec
	// Trained is the checkpoint to evaluate instead of training, if any.
	Trained string
}

// trainSets returns the data sets models train on: those of Tables 1/2a,
// then the sources of Table 2b.
func (p Protocol) trainSets() []string {
	var sets []string
	add := func(ds string) {
		if !slices.Contains(sets, ds) {
			sets = append(sets, ds)
		}
	}
	if p.wants(Table1) || p.wants(Table2a) {
		for _, ds := range p.Datasets {
			add(ds)
		}
	}
	if p.wants(Table2b) {
		for _, pr := range p.Pairs {
			add(pr.From)
		}
	}
	return sets
}

// trainedSpec returns the training spec of a checkpoint given in Trained:
// its config and its SHA-256.
func trainedSpec(model, path string) (json.RawMessage, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: trained %s: %v", ErrProtocol, model, err)
	}
	m, err := loadModel(model, path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: trained %s: %v", ErrProtocol, model, err)
	}
	cfg, err := json.Marshal(m.config())
	if err != nil {
		return nil, "", fmt.Errorf("%w: trained %s: %v", ErrProtocol, model, err)
	}
	sum := sha256.Sum256(b)
	return cfg, hex.EncodeToString(sum[:]), nil
}

// name is the job's file-name stem: model_dataset_tK.
func (j job) name() string { return fmt.Sprintf("%s_%s_t%d", j.Model, j.Dataset, j.Trial) }

// plan lists the jobs of p: trials outermost, so that an interrupted run
// has whole trials of every model first; then training data sets (those
// of Tables 1/2a, then the sources of Table 2b), then models.
func (p Protocol) plan() ([]job, error) {
	trainSets := p.trainSets()
	evals := map[string][]EvalSpec{}
	if p.wants(Table1) || p.wants(Table2a) {
		for _, ds := range p.Datasets {
			evals[ds] = append(evals[ds], p.evalSpec(ds, taskRecon, 0), p.evalSpec(ds, taskDenoise, 0))
		}
	}
	if p.wants(Table2b) {
		for _, pr := range p.Pairs {
			e := p.evalSpec(pr.To, taskRecon, 0)
			if !slices.ContainsFunc(evals[pr.From], func(x EvalSpec) bool { return x.Dataset == e.Dataset && x.Task == e.Task }) {
				evals[pr.From] = append(evals[pr.From], e)
			}
		}
	}
	var jobs []job
	for k := 1; k <= p.Trials; k++ {
		for _, ds := range trainSets {
			for _, m := range p.Models {
				trained := p.Trained[trainedKey(m, ds)]
				if trained != "" && k > 1 {
					continue // a given checkpoint is one trial
				}
				cfg, err := p.trainConfig(m, k)
				if err != nil {
					return nil, err
				}
				spec := TrainSpec{Model: m, Dataset: ds, Path: p.Paths[ds], DataSeed: p.DataSeed,
					MaxImages: p.MaxImages, Epochs: p.epochs(m), Seed: p.seed(k), Config: cfg}
				if trained != "" {
					spec.MaxImages, spec.Epochs, spec.Seed = 0, 0, 0
					if spec.Config, spec.Checkpoint, err = trainedSpec(m, trained); err != nil {
						return nil, err
					}
				}
				key, err := fingerprint(spec)
				if err != nil {
					return nil, err
				}
				j := job{Model: m, Dataset: ds, Trial: k, Spec: spec, Key: key, Trained: trained}
				for _, e := range evals[ds] {
					e.Seed = p.seed(k)
					j.Evals = append(j.Evals, e)
				}
				jobs = append(jobs, j)
			}
		}
	}
	return jobs, nil
}

func (p Protocol) evalSpec(ds, task string, seed uint64) EvalSpec {
	e := EvalSpec{Dataset: ds, Path: p.Paths[ds], DataSeed: p.DataSeed, Images: p.EvalImages, Task: task, Seed: seed, Batch: p.EvalBatch}
	if task == taskDenoise {
		e.NoiseStd, e.NoClip = p.NoiseStd, p.NoClip
	}
	return e
}
