package main

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/viz"
)

func runHwsim(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "hwsim", "--model FILE [flags]",
		"Estimate what a trained model's actor circuit costs on neuromorphic hardware and study its\n"+
			"dynamics in virtual time. The circuit (every feature map's state and error population) is\n"+
			"mapped onto each architecture's cores; hwsim's discrete-event engine then runs the same\n"+
			"population code as the actor runtime on real images (reconstruction, T steps): link\n"+
			"latencies from mesh hops, compute times from counted events, seeded jitter. --mode sync\n"+
			"runs the lock-step dataflow (equal to the batched reference), async lets populations fire\n"+
			"on arrival with the latest inputs (budget T corrections, optional staleness bound). One\n"+
			"training batch (sync, tied or untied as the model) is run too. Energy and latency come\n"+
			"from the counted events and each architecture's sourced per-event costs (hwsim.Estimate);\n"+
			"the CPU row for the batched reference is measured wall time times the stated package power.\n"+
			"Prints tables; writes hwsim.json and PNG plots (discrepancy and reconstruction error vs\n"+
			"virtual time and vs messages, staleness, energy per image per architecture) to --out.")
	model := fs.String("model", "", "trained model (safetensors) to study (required)")
	var df dataFlags
	df.register(fs, 16)
	split := fs.String("split", "test", "split to take images from: train, validation or test")
	archs := fs.StringSlice("arch", []string{"loihi", "loihi2", "truenorth", "spinnaker", "cpu"},
		"architectures: built-in names ("+strings.Join(hwsim.Names(), ", ")+") or architecture JSON files")
	mode := fs.String("mode", "both", "dynamics in virtual time: sync, async or both")
	budget := fs.Int("budget", 0, "async: corrections per state map per mini-batch (0: T)")
	maxLag := fs.Int("max-lag", 0, "async: staleness bound in versions (0: none)")
	jitter := fs.String("jitter", "0.25", "seeded jitter of every latency and compute time: a fraction (0.25: up to +25%) or a duration (50ns: up to +50 ns)")
	seed := fs.Uint64("seed", 1, "seed of the jitter and the initial top states")
	batch := fs.Int("batch", 16, "mini-batch size (images run together; full batches only)")
	steps := fs.Int("T", 0, "inference steps (0: the model's)")
	quantize := fs.Bool("quantize", false, "quantise every map message to the architecture's value width (rate codes: their value_bits; graded spikes: --value-bits), one full scale per image and message, to measure what the representation does to accuracy")
	valueBits := fs.Int("value-bits", 32, "with --quantize, the width (2 to 32 bits) of a population's values wherever the architecture carries that many: graded spikes, SpiNNaker payloads, CPU words; rate-coded architectures keep their own narrower value_bits")
	out := fs.String("out", filepath.Join("runs", "hwsim"), "directory for hwsim.json and the plots")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		return fmt.Errorf("hwsim: --model is required")
	}
	var modes []hwsim.Dynamics
	switch *mode {
	case "sync":
		modes = []hwsim.Dynamics{hwsim.SyncDynamics}
	case "async":
		modes = []hwsim.Dynamics{hwsim.AsyncDynamics}
	case "both":
		modes = []hwsim.Dynamics{hwsim.SyncDynamics, hwsim.AsyncDynamics}
	default:
		return fmt.Errorf("hwsim: --mode %q (want sync, async or both)", *mode)
	}
	jit, jitTime, err := parseJitter(*jitter)
	if err != nil {
		return err
	}
	if err := checkRules("hwsim",
		rule{"value-bits", *valueBits, *valueBits >= 2 && *valueBits <= 32, "2 to 32 bits"},
		rule{"batch", *batch, *batch >= 1, "at least 1 image"},
		rule{"budget", *budget, *budget >= 0, "0 (T) or more"},
		rule{"max-lag", *maxLag, *maxLag >= 0, "0 (no bound) or more"},
		rule{"T", *steps, *steps >= 0, "0 (the model's) or more"},
		rule{"max-images", df.maxImages, df.maxImages >= 0, "0 (all) or more"},
	); err != nil {
		return err
	}
	if err := checkWritable(filepath.Join(*out, "hwsim.json")); err != nil {
		return fmt.Errorf("hwsim: --out: %w", err)
	}
	if len(*archs) == 0 {
		return fmt.Errorf("hwsim: --arch names no architecture")
	}
	sp, err := data.ParseSplit(*split)
	if err != nil {
		return err
	}
	m, err := ngc.Load(*model)
	if err != nil {
		return err
	}
	if *steps > 0 {
		if m, err = m.WithSteps(*steps); err != nil {
			return err
		}
	}
	cfg := m.Config()
	if cfg.ImageSize != data.Height || cfg.ChannelsAt(0) != data.Channels {
		return fmt.Errorf("hwsim: the model takes %d×%d images of %d channels, the data sets hold %d×%d×%d",
			cfg.ImageSize, cfg.ImageSize, cfg.ChannelsAt(0), data.Height, data.Width, data.Channels)
	}
	arches := make([]*hwsim.Arch, len(*archs))
	for i, name := range *archs {
		if arches[i], err = hwsim.Load(name); err != nil {
			return fmt.Errorf("hwsim: --arch %s: %w", name, err)
		}
	}
	set, err := df.load(ctx, sp)
	if err != nil {
		return err
	}
	if set.Len() == 0 {
		return fmt.Errorf("hwsim: the data set has no images")
	}
	B := min(*batch, set.Len())
	nb := set.Len() / B
	T := cfg.Steps
	c, err := circuit.FromModel(m)
	if err != nil {
		return err
	}
	hc, err := hwsim.CircuitOf(c.Graph, hwsim.Reconstruct, 32)
	if err != nil {
		return err
	}
	batchOf := func(k int) []float32 { return set.Images[k*B*data.ImageSize : (k+1)*B*data.ImageSize] }

	rep := &hwsimReport{Command: append([]string{"ngc", "hwsim"}, args...), Model: *model, Dataset: set.Name,
		Images: nb * B, Batch: B, Steps: T, Jitter: jit, JitterSeconds: jitTime, Seed: *seed, Budget: *budget, MaxLag: *maxLag,
		Populations: len(hc.Populations), Links: len(hc.Links), Tied: c.Params.E == nil}
	if rep.Budget == 0 {
		rep.Budget = T
	}

	// The CPU running the batched reference, measured.
	cpuRef, err := measureReference(ctx, *model, m, batchOf, nb, B, *seed)
	if err != nil {
		return err
	}
	rep.Reference = cpuRef

	work := len(arches) * (len(modes)*nb + 1)
	bar := newProgress(e, *quiet, work, "hwsim")
	done := 0
	for ai, a := range arches {
		ar := archReport{Arch: a.Name, Source: (*archs)[ai]}
		mp, err := hwsim.Map(hc, a, hwsim.Options{})
		if err != nil {
			if !errors.Is(err, hwsim.ErrDoesNotFit) {
				return fmt.Errorf("hwsim: map onto %s: %w", a.Name, err)
			}
			ar.Error = err.Error()
			rep.Archs = append(rep.Archs, ar)
			done += len(modes)*nb + 1
			bar.set(done, "")
			continue
		}
		ar.Cores, ar.Chips = len(mp.Cores), mp.Chips
		ar.NeuronUtil, ar.SynapseUtil = mp.NeuronUtilization, mp.SynapseUtilization
		ar.Violations, ar.MeanHops, ar.MaxHops = len(mp.Violations), mp.MeanHops, mp.MaxHops
		ar.Split = len(mp.Split())
		if *quantize {
			ar.ValueBits = a.ValueBits(*valueBits)
		}
		for _, dyn := range modes {
			eng, err := newEngine(c, mp, B, T, false, hwsim.EngineConfig{Dynamics: dyn, Budget: *budget, MaxLag: *maxLag,
				Jitter: jit, JitterTime: jitTime, Seed: *seed, ValueBits: ar.ValueBits})
			if err != nil {
				return err
			}
			rng := rand.New(rand.NewPCG(*seed, 1))
			mr := modeReport{Mode: dyn.String(), StateLag: map[int]int{}, ErrorLag: map[int]int{}}
			var sq float64
			for k := 0; k < nb; k++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				x := batchOf(k)
				start, err := c.StartMessages(x, B, k, rng)
				if err != nil {
					return err
				}
				res, err := eng.RunBatch(start)
				if err != nil {
					return fmt.Errorf("hwsim: %s %v batch %d: %w", a.Name, dyn, k, err)
				}
				if k == 0 {
					mr.Counts = res.Inference
					mr.Timeline = thin(res.Timeline, 250)
					mr.Phases = &phaseCounts{Init: res.Init, Steps: res.Steps, Readout: res.Readout}
				} else {
					mr.Counts = mr.Counts.Add(res.Inference)
				}
				mr.StepLatency += res.StepLatency() / float64(nb)
				mr.ImageLatency += res.InferenceEnd / float64(nb)
				for _, v := range res.Energy[len(res.Energy)-1] {
					mr.FinalDiscrepancy += v / float64(nb)
				}
				for i := range x {
					d := float64(x[i] - res.Output[i])
					sq += d * d
				}
				for l, n := range res.StateLag {
					mr.StateLag[l] += n
				}
				for l, n := range res.ErrorLag {
					mr.ErrorLag[l] += n
				}
				done++
				bar.set(done, describe("%s %v batch %d/%d", a.Name, dyn, k+1, nb))
			}
			mr.ReconMSE = sq / float64(nb*B*data.ImageSize)
			mr.Counts.Images = int64(nb * B)
			mr.Counts.Label = fmt.Sprintf("reconstruction, T=%d, %v", T, dyn)
			mr.MeanStateLag, mr.MaxStateLag = circuit.LagSummary(mr.StateLag)
			if mr.Cost, err = hwsim.Estimate(mp, mr.Counts); err != nil {
				return err
			}
			mr.EnergyPerImage = mr.Cost.EnergyPerImage()
			mr.EstimatedLatencyPerImage = mr.Cost.LatencyPerImage()
			mr.MessagesPerImage = float64(mr.Counts.Messages) / float64(mr.Counts.Images)
			ar.Runs = append(ar.Runs, mr)
		}
		// One training batch, sync, on the populations' own copy of the kernels.
		eng, err := newEngine(c, mp, B, T, true, hwsim.EngineConfig{Jitter: jit, JitterTime: jitTime, Seed: *seed, ValueBits: ar.ValueBits})
		if err != nil {
			return err
		}
		start, err := c.StartMessages(batchOf(0), B, 0, rand.New(rand.NewPCG(*seed, 1)))
		if err != nil {
			return err
		}
		res, err := eng.RunBatch(start)
		if err != nil {
			return fmt.Errorf("hwsim: %s training batch: %w", a.Name, err)
		}
		tc := res.Total
		tc.Label = fmt.Sprintf("training, T=%d, batch %d", T, B)
		tcost, err := hwsim.Estimate(mp, tc)
		if err != nil {
			return err
		}
		ar.Training = &trainReport{Counts: tc, Learn: res.Learn, Cost: tcost, EnergyPerImage: tcost.EnergyPerImage(),
			VirtualSeconds: float64(B)*res.InferenceEnd + (res.End - res.InferenceEnd)}
		done++
		bar.set(done, "")
		rep.Archs = append(rep.Archs, ar)
	}
	bar.done()

	printHwsim(e, rep)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("hwsim: %w", err)
	}
	jsonPath := filepath.Join(*out, "hwsim.json")
	if err := writeJSON(jsonPath, rep); err != nil {
		return err
	}
	plots, err := writeHwsimPlots(*out, rep)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nreport: %s\nplots: %s\n", jsonPath, strings.Join(plots, ", "))
	return nil
}

// parseJitter reads a fraction ("0.25") or a duration ("50ns").
func parseJitter(s string) (frac, seconds float64, err error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, 0, fmt.Errorf("hwsim: --jitter %q must be a fraction ≥ 0 or a duration", s)
		}
		return f, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, 0, fmt.Errorf("hwsim: --jitter %q must be a fraction ≥ 0 or a duration such as 50ns", s)
	}
	return 0, d.Seconds(), nil
}

// newEngine builds fresh populations of c and a virtual-time engine over them.
func newEngine(c *circuit.Circuit, mp *hwsim.Mapping, B, T int, learn bool, cfg hwsim.EngineConfig) (*hwsim.Engine, error) {
	refs, pops, err := c.Populations(B, ngc.Reconstruct, learn)
	if err != nil {
		return nil, err
	}
	sp := make([]hwsim.SimPop, len(refs))
	for i, r := range refs {
		sp[i] = pops[r]
	}
	route := func(k neuron.Kind, from neuron.Ref) []neuron.Ref { return c.Receivers(k, from, ngc.Reconstruct, learn) }
	return hwsim.NewEngine(mp, hwsim.Net{Pops: sp, Route: route, Batch: B, Steps: T, Learn: learn}, cfg)
}

// referenceRuns is how many times the batched reference is timed; the
// fastest pass counts.
const referenceRuns = 3

// measureReference times the batched reference on the same batches
// (inference) and one training batch on a fresh copy of the model (best of
// referenceRuns passes each), and prices the wall time with the CPU
// architecture's package power.
func measureReference(ctx context.Context, path string, m *ngc.Model, batchOf func(int) []float32, nb, B int, seed uint64) (*referenceReport, error) {
	cpu, err := hwsim.Load("cpu")
	if err != nil {
		return nil, err
	}
	ws, err := m.NewWorkspace(B)
	if err != nil {
		return nil, err
	}
	// Best of referenceRuns passes: other work on the machine only ever
	// adds time.
	wall := time.Duration(math.MaxInt64)
	for range referenceRuns {
		rng := rand.New(rand.NewPCG(seed, 1))
		var w time.Duration
		for k := 0; k < nb; k++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			t0 := time.Now()
			if err := m.Infer(ws, batchOf(k), ngc.Reconstruct, rng, nil); err != nil {
				return nil, err
			}
			w += time.Since(t0)
		}
		wall = min(wall, w)
	}
	inf, err := hwsim.EstimateWallTime(cpu, wall, int64(nb*B), "batched reference, reconstruction, measured")
	if err != nil {
		return nil, err
	}
	tm, err := ngc.Load(path)
	if err != nil {
		return nil, err
	}
	if tm, err = tm.WithSteps(m.Config().Steps); err != nil {
		return nil, err
	}
	tws, err := tm.NewWorkspace(B)
	if err != nil {
		return nil, err
	}
	twall := time.Duration(math.MaxInt64)
	for range referenceRuns {
		t0 := time.Now()
		if err := tm.TrainBatch(tws, batchOf(0), rand.New(rand.NewPCG(seed, 1)), nil); err != nil {
			return nil, err
		}
		twall = min(twall, time.Since(t0))
	}
	tr, err := hwsim.EstimateWallTime(cpu, twall, int64(B), "batched reference, training batch, measured")
	if err != nil {
		return nil, err
	}
	return &referenceReport{PackagePower: cpu.Energy.PackagePower.Value, PowerSource: cpu.Energy.PackagePower.Source,
		PowerProvenance: string(cpu.Energy.PackagePower.Provenance),
		InferSeconds:    wall.Seconds(), InferImages: nb * B, Inference: inf, InferenceEnergyPerImage: inf.EnergyPerImage(),
		InferenceSecondsPerImage: inf.LatencyPerImage(), Training: tr, TrainingEnergyPerImage: tr.EnergyPerImage(),
		TrainingSecondsPerImage: tr.LatencyPerImage()}, nil
}

// thin keeps at most n samples, evenly spaced, always the last.
func thin(s []hwsim.Sample, n int) []hwsim.Sample {
	if len(s) <= n {
		return s
	}
	out := make([]hwsim.Sample, 0, n)
	for i := 0; i < n-1; i++ {
		out = append(out, s[i*len(s)/(n-1)])
	}
	return append(out, s[len(s)-1])
}

type hwsimReport struct {
	Command       []string         `json:"command"`
	Model         string           `json:"model"`
	Dataset       string           `json:"dataset"`
	Images        int              `json:"images"`
	Batch         int              `json:"batch"`
	Steps         int              `json:"T"`
	Jitter        float64          `json:"jitter"`
	JitterSeconds float64          `json:"jitter_seconds"`
	Seed          uint64           `json:"seed"`
	Budget        int              `json:"budget"`
	MaxLag        int              `json:"max_lag"`
	Populations   int              `json:"populations"`
	Links         int              `json:"links"`
	Tied          bool             `json:"tied"`
	Reference     *referenceReport `json:"cpu_batched_reference"`
	Archs         []archReport     `json:"archs"`
}

type archReport struct {
	Arch        string  `json:"arch"`
	Source      string  `json:"source"`
	Error       string  `json:"error,omitempty"`
	Cores       int     `json:"cores"`
	Chips       int     `json:"chips"`
	Split       int     `json:"split_populations"`
	NeuronUtil  float64 `json:"neuron_utilization"`
	SynapseUtil float64 `json:"synapse_utilization"`
	Violations  int     `json:"axon_violations"`
	MeanHops    float64 `json:"mean_hops"`
	MaxHops     int     `json:"max_hops"`
	// ValueBits is the width every map message was quantised to: 0
	// without --quantize, and 32 (also exact: the float32 itself) where
	// the architecture and --value-bits allow a full word.
	ValueBits int          `json:"value_bits"`
	Runs      []modeReport `json:"runs"`
	Training  *trainReport `json:"training,omitempty"`
}

type modeReport struct {
	Mode string `json:"mode"`
	// Counts are the inference events of every image run.
	Counts                   hwsim.Counts   `json:"counts"`
	Cost                     hwsim.Cost     `json:"cost"`
	EnergyPerImage           float64        `json:"energy_per_image_j"`
	EstimatedLatencyPerImage float64        `json:"estimated_latency_per_image_s"`
	StepLatency              float64        `json:"virtual_step_latency_s"`
	ImageLatency             float64        `json:"virtual_image_latency_s"`
	MessagesPerImage         float64        `json:"messages_per_image"`
	ReconMSE                 float64        `json:"recon_mse"`
	FinalDiscrepancy         float64        `json:"final_discrepancy"`
	StateLag                 map[int]int    `json:"state_lag,omitempty"`
	ErrorLag                 map[int]int    `json:"error_lag,omitempty"`
	MeanStateLag             float64        `json:"mean_state_lag"`
	MaxStateLag              int            `json:"max_state_lag"`
	Timeline                 []hwsim.Sample `json:"timeline_first_batch"`
	// Phases are the first batch's counts by phase (every step or version).
	Phases *phaseCounts `json:"phases_first_batch"`
}

type phaseCounts struct {
	Init    hwsim.Counts   `json:"init"`
	Steps   []hwsim.Counts `json:"steps"`
	Readout hwsim.Counts   `json:"readout"`
}

type trainReport struct {
	// Counts cover the whole batch, inference and learning; Learn the
	// local update alone.
	Counts         hwsim.Counts `json:"counts"`
	Learn          hwsim.Counts `json:"learn"`
	Cost           hwsim.Cost   `json:"cost"`
	EnergyPerImage float64      `json:"energy_per_image_j"`
	VirtualSeconds float64      `json:"virtual_seconds"`
}

type referenceReport struct {
	PackagePower             float64    `json:"package_power_w"`
	PowerSource              string     `json:"power_source"`
	PowerProvenance          string     `json:"power_provenance"`
	InferSeconds             float64    `json:"inference_seconds"`
	InferImages              int        `json:"inference_images"`
	Inference                hwsim.Cost `json:"inference"`
	InferenceEnergyPerImage  float64    `json:"inference_energy_per_image_j"`
	InferenceSecondsPerImage float64    `json:"inference_seconds_per_image"`
	Training                 hwsim.Cost `json:"training"`
	TrainingEnergyPerImage   float64    `json:"training_energy_per_image_j"`
	TrainingSecondsPerImage  float64    `json:"training_seconds_per_image"`
}

// si formats a value with an SI prefix.
func si(v float64, unit string) string {
	if v == 0 {
		return "0 " + unit
	}
	prefixes := []struct {
		f float64
		p string
	}{{1, ""}, {1e-3, "m"}, {1e-6, "µ"}, {1e-9, "n"}, {1e-12, "p"}}
	for _, p := range prefixes {
		if math.Abs(v) >= p.f {
			return fmt.Sprintf("%.3g %s%s", v/p.f, p.p, unit)
		}
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

func printHwsim(e *env, r *hwsimReport) {
	w := e.stdout
	fmt.Fprintf(w, "Conv-NGC circuit of %s: %d populations, %d links; %d %s images in batches of %d, reconstruction, T=%d\n",
		r.Model, r.Populations, r.Links, r.Images, r.Dataset, r.Batch, r.Steps)
	fmt.Fprintf(w, "virtual time: jitter %g", r.Jitter)
	if r.JitterSeconds > 0 {
		fmt.Fprintf(w, " + %s", si(r.JitterSeconds, "s"))
	}
	fmt.Fprintf(w, ", seed %d; async budget %d, staleness bound %d (0: none)\n\n", r.Seed, r.Budget, r.MaxLag)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "arch\tcores\tchips\tneuron util\tsynapse util\tsplit pops\taxon violations\tmean hops\tmessage values\t")
	for _, a := range r.Archs {
		if a.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\n", a.Arch, a.Error)
			continue
		}
		values := "float32"
		if a.ValueBits > 0 && a.ValueBits < 32 {
			values = fmt.Sprintf("%d-bit", a.ValueBits)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%.1f%%\t%d\t%d\t%.2f\t%s\t\n", a.Arch, a.Cores, a.Chips, 100*a.NeuronUtil, 100*a.SynapseUtil, a.Split, a.Violations, a.MeanHops, values)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "arch\tmode\trecon J/img\ttrain J/img\tstep (virtual)\timage (virtual)\timage (estimate)\tmsgs/img\trecon MSE\tfinal ½Σ‖e‖²\tmean lag\t")
	for _, a := range r.Archs {
		for _, m := range a.Runs {
			train := ""
			if a.Training != nil && m.Mode == "sync" {
				train = si(a.Training.EnergyPerImage, "J")
			}
			lag := ""
			if m.Mode == "async" {
				lag = fmt.Sprintf("%.2f (max %d)", m.MeanStateLag, m.MaxStateLag)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.5f\t%.2f\t%s\t\n", a.Arch, m.Mode, si(m.EnergyPerImage, "J"), train,
				si(m.StepLatency, "s"), si(m.ImageLatency, "s"), si(m.EstimatedLatencyPerImage, "s"), m.MessagesPerImage, m.ReconMSE, m.FinalDiscrepancy, lag)
		}
	}
	if ref := r.Reference; ref != nil {
		fmt.Fprintf(tw, "cpu batched (measured)\tsync\t%s\t%s\t\t%s\t\t\t\t\t\t\n", si(ref.InferenceEnergyPerImage, "J"), si(ref.TrainingEnergyPerImage, "J"), si(ref.InferenceSecondsPerImage, "s"))
	}
	tw.Flush()
	if ref := r.Reference; ref != nil {
		fmt.Fprintf(w, "(cpu batched: %d images in %.3f s of wall time, best of %d passes, × %.3g W package power, %s: %s)\n",
			ref.InferImages, ref.InferSeconds, referenceRuns, ref.PackagePower, ref.PowerProvenance, ref.PowerSource)
	}

	first := ""
	for _, a := range r.Archs {
		if len(a.Runs) > 0 {
			first = a.Runs[0].Mode
			break
		}
	}
	fmt.Fprintf(w, "\nEnergy by event kind, reconstruction (%s):\n", first)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "arch\t")
	for k := hwsim.Kind(0); k < hwsim.NumKinds; k++ {
		fmt.Fprintf(tw, "%s\t", k)
	}
	fmt.Fprintln(tw)
	for _, a := range r.Archs {
		for _, m := range a.Runs {
			if m.Mode != first || m.Cost.Energy == 0 {
				continue
			}
			fmt.Fprintf(tw, "%s\t", a.Arch)
			for k := hwsim.Kind(0); k < hwsim.NumKinds; k++ {
				fmt.Fprintf(tw, "%.1f%%\t", 100*m.Cost.EnergyBy[k]/m.Cost.Energy)
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
	var warns []string
	seen := map[string]bool{}
	note := func(ws []string) {
		for _, s := range ws {
			if !seen[s] {
				seen[s] = true
				warns = append(warns, s)
			}
		}
	}
	for _, a := range r.Archs {
		for _, m := range a.Runs {
			note(m.Cost.Warnings)
		}
		if a.Training != nil {
			note(a.Training.Cost.Warnings)
		}
	}
	if len(warns) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, s := range warns {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
}

// writeHwsimPlots draws the curves and the energy chart.
func writeHwsimPlots(dir string, r *hwsimReport) ([]string, error) {
	var files []string
	save := func(name string, lp viz.LinePlot) error {
		p := filepath.Join(dir, name)
		if err := lp.WritePNG(p); err != nil {
			return err
		}
		files = append(files, p)
		return nil
	}
	series := func(name string, tl []hwsim.Sample, x func(hwsim.Sample) float64, y func(hwsim.Sample) float64) viz.Series {
		s := viz.Series{Name: name}
		for _, p := range tl {
			s.X = append(s.X, x(p))
			s.Y = append(s.Y, y(p))
		}
		return s
	}
	us := func(s hwsim.Sample) float64 { return s.Time * 1e6 }
	msgs := func(s hwsim.Sample) float64 { return float64(s.Messages) }
	disc := func(s hwsim.Sample) float64 { return s.Discrepancy }
	mse := func(s hwsim.Sample) float64 { return s.ReconMSE }
	var byMsgD, byMsgR []viz.Series
	stale := viz.LinePlot{Title: "staleness of the inputs state maps corrected with (async)", XLabel: "version lag", YLabel: "fraction of inputs"}
	for _, a := range r.Archs {
		if len(a.Runs) == 0 {
			continue
		}
		var dt, rt []viz.Series
		for _, m := range a.Runs {
			dt = append(dt, series(m.Mode, m.Timeline, us, disc))
			rt = append(rt, series(m.Mode, m.Timeline, us, mse))
			if m.Mode == "sync" && len(byMsgD) > 0 {
				continue // the sync dataflow sends the same messages on every architecture
			}
			name := m.Mode
			if m.Mode == "async" {
				name = "async " + a.Arch
			}
			byMsgD = append(byMsgD, series(name, m.Timeline, msgs, disc))
			byMsgR = append(byMsgR, series(name, m.Timeline, msgs, mse))
			if m.Mode == "async" {
				s := viz.Series{Name: a.Arch}
				total := 0
				for _, n := range m.StateLag {
					total += n
				}
				lags := make([]int, 0, len(m.StateLag))
				for l := range m.StateLag {
					lags = append(lags, l)
				}
				sort.Ints(lags)
				for _, l := range lags {
					s.X = append(s.X, float64(l))
					s.Y = append(s.Y, float64(m.StateLag[l])/float64(total))
				}
				stale.Series = append(stale.Series, s)
			}
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
	if err := energyChart(p, r); err != nil {
		return nil, err
	}
	return append(files, p), nil
}

// energyChart draws energy per image per architecture on a log scale: one
// marker per architecture for reconstruction (each mode) and training.
func energyChart(path string, r *hwsimReport) error {
	var names, order []string
	groups := map[string]plotter.XYs{}
	offset := map[string]float64{"reconstruction, sync": -0.15, "reconstruction, async": 0, "training (sync)": 0.15}
	add := func(group string, i int, v float64) {
		if !(v > 0) {
			return
		}
		if _, ok := groups[group]; !ok {
			order = append(order, group)
		}
		groups[group] = append(groups[group], plotter.XY{X: float64(i) + offset[group], Y: v})
	}
	i := 0
	for _, a := range r.Archs {
		if len(a.Runs) == 0 {
			continue
		}
		names = append(names, a.Arch)
		for _, m := range a.Runs {
			add("reconstruction, "+m.Mode, i, m.EnergyPerImage)
		}
		if a.Training != nil {
			add("training (sync)", i, a.Training.EnergyPerImage)
		}
		i++
	}
	if r.Reference != nil {
		names = append(names, "cpu batched, measured")
		add("reconstruction, sync", i, r.Reference.InferenceEnergyPerImage)
		add("training (sync)", i, r.Reference.TrainingEnergyPerImage)
	}
	if len(order) == 0 {
		return fmt.Errorf("hwsim: no energy to plot")
	}
	p := plot.New()
	p.Title.Text = "energy per image"
	p.Y.Label.Text = "J per image"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	colors := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}}
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}}
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
