package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/graph"
)

// modelFlags are the knobs of ngc.Config, bound to its fields, and the
// circuit flags.
type modelFlags struct {
	ngc.Config
	graphFile string
	residual  int
	pathway   string
}

func (mf *modelFlags) register(fs *pflag.FlagSet) {
	c := &mf.Config
	c.Gamma, c.TopMean, c.TopStd, c.Lambda, c.InitStd = new(float64), new(float64), new(float64), new(float64), new(float64)
	fs.IntSliceVar(&c.Channels, "channels", ngc.PaperChannels, "maps per state layer from the top down to the image's colour channels")
	fs.IntVar(&c.Steps, "T", 60, "inference steps per mini-batch (stimulus window T)")
	fs.Float64Var(&c.Beta, "beta", 0.1, "state update rate β")
	fs.Float64Var(c.Gamma, "gamma", 0.001, "state leak γ")
	fs.Float64Var(c.TopMean, "top-mean", 0.5, "mean μ_z of the initial top states")
	fs.Float64Var(c.TopStd, "top-std", 0.05, "standard deviation σ_z of the initial top states (0: deterministic)")
	fs.StringVar(&c.Phi, "phi", "leaky-relu", "state activation φ: leaky-relu, relu, identity, sigmoid or selu")
	fs.BoolVar(&c.BottomSigmoid, "bottom-sigmoid", false, "predict the image through a logistic sigmoid (identity otherwise)")
	fs.BoolVar(&c.PCN, "pcn", false, "PCN variant: multiply the bottom-up correction by φ'(z)")
	fs.BoolVar(&c.Untied, "untied", false, "learn separate error kernels E instead of using Wᵀ")
	fs.Float64Var(c.Lambda, "lambda", 1, "update factor λ of the error kernels E (with --untied)")
	fs.StringVar(&c.Optimizer, "optimizer", "adam", "kernel update rule: adam, or normalized (the paper's Algorithm 2 step)")
	fs.Float64Var(&c.LearningRate, "lr", 0.001, "learning rate (Adam step size, or the normalised step α)")
	fs.Float64Var(&c.MaxKernelNorm, "max-kernel-norm", 1, "re-project every kernel to this Euclidean norm after each update (negative: off)")
	fs.Float64Var(c.InitStd, "init-std", 0.1, "standard deviation of the initial kernels")
	fs.IntVar(&c.Batch, "batch", 500, "mini-batch size")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of initialisation, shuffling and inference noise")
	fs.StringVar(&mf.graphFile, "graph", "", "circuit description (JSON, see package ngc/graph): any layers and synapses, skip synapses and residual blocks; replaces --channels")
	fs.IntVar(&mf.residual, "residual", 0, "turn every stride-2 synapse into the paper's Appendix C residual block with this many maps inside (0: plain synapses)")
	fs.StringVar(&mf.pathway, "pathway", "lra", "residual blocks' error pathway: lra (the paper's Eq. 8-11, skipping pools and rectifiers) or exact (through them)")
}

// check refuses, with one line naming the flag, values no network can run
// with: non-finite numbers, a zero or negative --beta or --lr, a zero
// --max-kernel-norm, negative standard deviations and rates, and a batch,
// T or channel count below 1.
func (mf *modelFlags) check(cmd string) error {
	c := &mf.Config
	return checkRules(cmd,
		rule{"beta", c.Beta, c.Beta > 0, "a positive number (the state update rate)"},
		rule{"gamma", *c.Gamma, *c.Gamma >= 0, wantNonNegative},
		rule{"top-mean", *c.TopMean, true, wantFinite},
		rule{"top-std", *c.TopStd, *c.TopStd >= 0, wantNonNegative},
		rule{"lambda", *c.Lambda, *c.Lambda >= 0, wantNonNegative},
		rule{"lr", c.LearningRate, c.LearningRate > 0, "a positive learning rate"},
		rule{"max-kernel-norm", c.MaxKernelNorm, c.MaxKernelNorm != 0, "a positive norm, or negative to turn the projection off"},
		rule{"init-std", *c.InitStd, *c.InitStd >= 0, wantNonNegative},
		rule{"T", c.Steps, c.Steps >= 1, "at least 1 inference step"},
		rule{"batch", c.Batch, c.Batch >= 1, "at least 1 image"},
		rule{"channels", c.Channels, len(c.Channels) >= 2 && !slices.ContainsFunc(c.Channels, func(c int) bool { return c < 1 }),
			"at least two layers (top ... image), each of at least 1 map"},
	)
}

// modelConfig is the flags' config with the circuit of --graph, or the
// chain with --residual blocks.
func (mf *modelFlags) modelConfig() (ngc.Config, error) {
	c := mf.Config
	switch {
	case mf.pathway != graph.PathwayLRA && mf.pathway != graph.PathwayExact:
		return ngc.Config{}, fmt.Errorf("--pathway %q: want lra or exact", mf.pathway)
	case mf.graphFile != "" && mf.residual > 0:
		return ngc.Config{}, fmt.Errorf("--graph and --residual: give one of them")
	case mf.residual < 0:
		return ngc.Config{}, fmt.Errorf("--residual %d: want 0 (plain synapses) or a number of maps", mf.residual)
	case mf.graphFile != "":
		g, err := graph.Load(mf.graphFile)
		if err != nil {
			return ngc.Config{}, err
		}
		c.Graph, c.Channels = g, nil
	case mf.residual > 0:
		return c.WithResidual(mf.residual, mf.pathway)
	}
	return c, nil
}

// dataFlags select a data set.
type dataFlags struct {
	dataset   string
	path      string
	maxImages int
	seed      int64
}

func (df *dataFlags) register(fs *pflag.FlagSet, maxImages int) {
	fs.StringVar(&df.dataset, "dataset", data.ColorMNISTName, "data set: color-mnist, cifar10, svhn, cinic10 or folder")
	fs.StringVar(&df.path, "data", "", "data location (default: the MNIST module for color-mnist, $NGC_DATA_DIR/<dataset> otherwise)")
	fs.IntVar(&df.maxImages, "max-images", maxImages, "use at most this many images of the split (0: all)")
	fs.Int64Var(&df.seed, "data-seed", 1, "seed of the validation hold-out, image subset and Color-MNIST colours")
}

func (df *dataFlags) load(ctx context.Context, split data.Split) (*data.Set, error) {
	return data.Load(ctx, data.Options{Dataset: df.dataset, Path: df.path, Split: split, MaxImages: df.maxImages, Seed: df.seed})
}

// dynamicsFlags change how a trained model runs inference: the window T,
// the state update rate and leak, and the top states' initial draw. Only
// the flags given on the command line change the model's own settings.
type dynamicsFlags struct {
	steps          int
	beta, gamma    float64
	topMean, topSD float64
	// zeroSteps makes --T 0 mean the model's T (ngc run, ngc hwsim);
	// otherwise a given --T must be at least 1.
	zeroSteps bool
}

func (d *dynamicsFlags) register(fs *pflag.FlagSet) {
	stepsHelp := "inference steps (default: the model's)"
	if d.zeroSteps {
		stepsHelp = "inference steps (0: the model's)"
	}
	fs.IntVar(&d.steps, "T", 0, stepsHelp)
	fs.Float64Var(&d.beta, "beta", 0, "state update rate β (default: the model's)")
	fs.Float64Var(&d.gamma, "gamma", 0, "state leak γ (default: the model's)")
	fs.Float64Var(&d.topMean, "top-mean", 0, "mean μ_z of the initial top states (default: the model's)")
	fs.Float64Var(&d.topSD, "top-std", 0, "standard deviation σ_z of the initial top states, 0 for deterministic runs (default: the model's)")
}

// rules are the dynamics flags' rules, in ngc.TunableSettings' order.
func (d *dynamicsFlags) rules() []rule {
	steps := rule{"T", d.steps, d.steps >= 1, "at least 1 step"}
	if d.zeroSteps {
		steps = rule{"T", d.steps, d.steps >= 0, "0 (the model's) or more"}
	}
	return []rule{steps,
		{"beta", d.beta, d.beta > 0, "a positive rate"},
		{"gamma", d.gamma, d.gamma >= 0, wantNonNegative},
		{"top-mean", d.topMean, true, wantFinite},
		{"top-std", d.topSD, d.topSD >= 0, wantNonNegative},
	}
}

// check refuses, with one line naming the flag, given values no network
// can run with.
func (d *dynamicsFlags) check(cmd string, fs *pflag.FlagSet) error {
	for _, r := range d.rules() {
		if fs.Changed(r.flag) {
			if err := checkRules(cmd, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply returns m with the given dynamics flags (ngc.Model.Override), and
// a note of what changed ("" when nothing did). Values no network can run
// with are refused with one line naming the flag.
func (d *dynamicsFlags) apply(cmd string, fs *pflag.FlagSet, m *ngc.Model) (*ngc.Model, string, error) {
	if err := d.check(cmd, fs); err != nil {
		return nil, "", err
	}
	var given []string
	for _, r := range d.rules() {
		if fs.Changed(r.flag) && (r.flag != "T" || d.steps != 0) {
			given = append(given, r.flag)
		}
	}
	if len(given) == 0 {
		return m, "", nil
	}
	r, changes, err := m.Override(ngc.Config{Steps: d.steps, Beta: d.beta, Gamma: ngc.Float(d.gamma),
		TopMean: ngc.Float(d.topMean), TopStd: ngc.Float(d.topSD)}, given...)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", cmd, err)
	}
	notes := make([]string, len(changes))
	for i, ch := range changes {
		notes[i] = fmt.Sprintf("--%s %v", ch.Setting, ch.Now)
	}
	return r, strings.Join(notes, " "), nil
}

// applyNoted is apply, saying on stderr what changed.
func (d *dynamicsFlags) applyNoted(e *env, cmd string, fs *pflag.FlagSet, m *ngc.Model) (*ngc.Model, error) {
	m, changed, err := d.apply(cmd, fs, m)
	if err != nil {
		return nil, err
	}
	if changed != "" {
		fmt.Fprintf(e.stderr, "dynamics flags applied to the model: %s\n", changed)
	}
	return m, nil
}

// rule is one flag's value and whether the command can use it.
type rule struct {
	flag  string
	value any
	ok    bool
	want  string
}

// checkRules returns one line naming the first flag a rule refuses, or
// nil. A float64 value that is NaN or infinite is always refused.
func checkRules(cmd string, rules ...rule) error {
	for _, r := range rules {
		if f, isFloat := r.value.(float64); isFloat && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return fmt.Errorf("%s: --%s %v: want %s", cmd, r.flag, f, r.want)
		}
		if !r.ok {
			return fmt.Errorf("%s: --%s %v: want %s", cmd, r.flag, r.value, r.want)
		}
	}
	return nil
}

// Common wants.
const (
	wantNonNegative = "0 or more"
	wantFinite      = "a finite number"
)
