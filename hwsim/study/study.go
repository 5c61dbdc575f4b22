package study

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/graph"
)

// CheckModel refuses a model whose images are not the data sets' (32×32,
// 3 channels).
func CheckModel(m *ngc.Model) error {
	if err := m.Config().CheckImages(); err != nil {
		return fmt.Errorf("hwsim: %w", err)
	}
	return nil
}

// study is one Run in progress.
type study struct {
	ctx   context.Context
	m     *ngc.Model
	c     *circuit.Circuit
	hc    hwsim.Circuit
	set   *data.Set
	opts  Options
	modes []hwsim.Dynamics
	encs  []neuron.Encoding // dense, then Options.Encoding when it is another
	B, nb int               // mini-batch size and count
	T     int
	done  int // units of work done
	total int
}

// Run studies model m on the images of set (reconstruction, the model's T
// steps) on every target of opts, and returns the report. Only full
// mini-batches run. The model is not changed: the training batches run on
// copies. It fails on bad options, a model that does not take the set's
// images, an empty set, or a failed simulation; a circuit that does not fit
// an architecture is recorded in that architecture's entry instead.
func Run(ctx context.Context, m *ngc.Model, set *data.Set, opts Options) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if err := CheckModel(m); err != nil {
		return nil, err
	}
	if set == nil || set.Len() == 0 {
		return nil, fmt.Errorf("hwsim: the data set has no images")
	}
	s := &study{ctx: ctx, m: m, set: set, opts: opts, modes: opts.Modes, T: m.Config().Steps}
	if s.modes == nil {
		s.modes = []hwsim.Dynamics{hwsim.SyncDynamics, hwsim.AsyncDynamics}
	}
	if s.opts.Batch == 0 {
		s.opts.Batch = DefaultBatch
	}
	if s.opts.ValueBits == 0 {
		s.opts.ValueBits = 32
	}
	s.encs = []neuron.Encoding{{}}
	if opts.Encoding.Scheme != neuron.Dense {
		s.encs = append(s.encs, opts.Encoding)
	}
	s.B = min(s.opts.Batch, set.Len())
	s.nb = set.Len() / s.B
	var err error
	if s.c, err = circuit.FromModel(m); err != nil {
		return nil, fmt.Errorf("hwsim: %w", err)
	}
	if s.modes, err = runnableModes(s.c.Graph, s.modes, opts.Encoding); err != nil {
		return nil, err
	}
	if s.hc, err = hwsim.CircuitOf(s.c.Graph, hwsim.Reconstruct, 32); err != nil {
		return nil, fmt.Errorf("hwsim: %w", err)
	}
	rep := &Report{Dataset: set.Name, Images: s.nb * s.B, Batch: s.B, Steps: s.T, Jitter: opts.Jitter,
		JitterSeconds: opts.JitterSeconds, Seed: opts.Seed, Budget: opts.Budget, MaxLag: opts.MaxLag,
		Fire:        fireRule(opts.FireOnArrival).String(),
		Populations: len(s.hc.Populations), Links: len(s.hc.Links), Tied: s.c.Params.E == nil}
	if opts.Encoding.Scheme != neuron.Dense {
		rep.Encoding = opts.Encoding.String()
	}
	if rep.Budget == 0 {
		rep.Budget = s.T
	}
	if !opts.SkipReference {
		if rep.Reference, err = measureReference(ctx, m, s.batch, s.nb, s.B, opts.Seed); err != nil {
			return nil, err
		}
	}
	s.total = len(opts.Targets) * len(s.encs) * (len(s.modes)*s.nb + 1)
	s.report("")
	for _, t := range opts.Targets {
		ar, err := s.runArch(t)
		if err != nil {
			return nil, err
		}
		rep.Archs = append(rep.Archs, ar)
	}
	return rep, nil
}

// runnableModes returns the dynamics of modes that can run g: a graph with
// residual blocks runs in sync dynamics with dense messages only, so the
// async dynamics are left out of a study of both (and asked for alone, or
// with sigma-delta messages, are an error).
func runnableModes(g *graph.Graph, modes []hwsim.Dynamics, enc neuron.Encoding) ([]hwsim.Dynamics, error) {
	blocks := false
	for _, syn := range g.Synapses {
		blocks = blocks || syn.Block != nil
	}
	if !blocks {
		return modes, nil
	}
	if enc.Scheme != neuron.Dense {
		return nil, fmt.Errorf("hwsim: %w", circuit.ErrBlocks)
	}
	var out []hwsim.Dynamics
	for _, d := range modes {
		if d == hwsim.SyncDynamics {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("hwsim: a residual-block model runs in sync dynamics only (--mode sync)")
	}
	return out, nil
}

// batch returns mini-batch k's images.
func (s *study) batch(k int) []float32 {
	return s.set.Images[k*s.B*data.ImageSize : (k+1)*s.B*data.ImageSize]
}

// report tells Options.Progress how far the study has come.
func (s *study) report(desc string) {
	if s.opts.Progress != nil {
		s.opts.Progress(Progress{Done: s.done, Total: s.total, Desc: desc})
	}
}

// runArch maps the circuit onto one architecture and runs every mode and
// the training batch on it.
func (s *study) runArch(t Target) (ArchReport, error) {
	a := t.Arch
	ar := ArchReport{Arch: a.Name, Source: t.Source}
	mp, err := hwsim.Map(s.hc, a, hwsim.Options{})
	if err != nil {
		if !errors.Is(err, hwsim.ErrDoesNotFit) {
			return ar, fmt.Errorf("hwsim: map onto %s: %w", a.Name, err)
		}
		ar.Error = err.Error()
		s.done += len(s.encs) * (len(s.modes)*s.nb + 1)
		s.report("")
		return ar, nil
	}
	ar.Cores, ar.Chips = len(mp.Cores), mp.Chips
	ar.NeuronUtil, ar.SynapseUtil = mp.NeuronUtilization, mp.SynapseUtilization
	ar.Violations, ar.MeanHops, ar.MaxHops = len(mp.Violations), mp.MeanHops, mp.MaxHops
	ar.Split = len(mp.Split())
	if s.opts.Quantize {
		ar.ValueBits = a.ValueBits(s.opts.ValueBits)
	}
	for _, dyn := range s.modes {
		for _, enc := range s.encs {
			mr, err := s.runMode(a, mp, dyn, enc, ar.ValueBits)
			if err != nil {
				return ar, err
			}
			ar.Runs = append(ar.Runs, mr)
		}
	}
	for i, enc := range s.encs {
		tr, err := s.runTraining(a, mp, enc, ar.ValueBits)
		if err != nil {
			return ar, err
		}
		if i == 0 {
			ar.Training = tr
		} else {
			ar.TrainingEncoded = tr
		}
		s.done++
		s.report("")
	}
	return ar, nil
}

// encoded returns the study's circuit with its messages encoded by enc.
func (s *study) encoded(enc neuron.Encoding) *circuit.Circuit {
	c := *s.c
	c.Encoding = enc
	return &c
}

// engineConfig is the virtual-time engine's configuration under dyn.
func (s *study) engineConfig(dyn hwsim.Dynamics, valueBits int) hwsim.EngineConfig {
	return hwsim.EngineConfig{Dynamics: dyn, Budget: s.opts.Budget, MaxLag: s.opts.MaxLag,
		FireOnArrival: s.opts.FireOnArrival, Jitter: s.opts.Jitter,
		JitterTime: s.opts.JitterSeconds, Seed: s.opts.Seed, ValueBits: valueBits}
}

// runMode reconstructs every mini-batch under dyn and enc on one
// architecture.
func (s *study) runMode(a *hwsim.Arch, mp *hwsim.Mapping, dyn hwsim.Dynamics, enc neuron.Encoding, valueBits int) (ModeReport, error) {
	mr := ModeReport{Mode: dyn.String(), Encoding: enc.String(), StateLag: map[int]int{}, ErrorLag: map[int]int{}}
	eng, err := newEngine(s.encoded(enc), mp, s.B, s.T, false, s.engineConfig(dyn, valueBits))
	if err != nil {
		return mr, err
	}
	rng := rand.New(rand.NewPCG(s.opts.Seed, 1))
	var sq float64
	for k := 0; k < s.nb; k++ {
		if err := s.ctx.Err(); err != nil {
			return mr, err
		}
		x := s.batch(k)
		start, err := s.c.StartMessages(x, s.B, k, rng)
		if err != nil {
			return mr, fmt.Errorf("hwsim: %w", err)
		}
		res, err := eng.RunBatch(start)
		if err != nil {
			return mr, fmt.Errorf("hwsim: %s %v %v batch %d: %w", a.Name, dyn, enc, k, err)
		}
		mr.add(res, k, s.nb)
		for _, ac := range res.Actors {
			mr.PerImageStep.Bytes += float64(ac.Bytes)
		}
		for i := range x {
			d := float64(x[i] - res.Output[i])
			sq += d * d
		}
		s.done++
		s.report(fmt.Sprintf("%s %v %v batch %d/%d", a.Name, dyn, enc, k+1, s.nb))
	}
	steps := float64(s.nb*s.B) * float64(len(mr.Phases.Steps))
	mr.PerImageStep.Messages = float64(mr.Counts.Messages) / steps
	mr.PerImageStep.Values = float64(mr.Counts.Values) / steps
	mr.PerImageStep.Bytes /= steps
	mr.PerImageStep.SynapticOps = float64(mr.Counts.SynapticOps) / steps
	mr.ReconMSE = sq / float64(s.nb*s.B*data.ImageSize)
	mr.Counts.Images = int64(s.nb * s.B)
	mr.Counts.Label = fmt.Sprintf("reconstruction, T=%d, %v, %v", s.T, dyn, enc)
	mr.MeanStateLag, mr.MaxStateLag = circuit.LagSummary(mr.StateLag)
	if mr.Cost, err = hwsim.Estimate(mp, mr.Counts); err != nil {
		return mr, fmt.Errorf("hwsim: estimate on %s: %w", a.Name, err)
	}
	mr.EnergyPerImage = mr.Cost.EnergyPerImage()
	mr.EstimatedLatencyPerImage = mr.Cost.LatencyPerImage()
	mr.MessagesPerImage = float64(mr.Counts.Messages) / float64(mr.Counts.Images)
	return mr, nil
}

// add accumulates mini-batch k of nb.
func (mr *ModeReport) add(res *hwsim.BatchResult, k, nb int) {
	if k == 0 {
		mr.Counts = res.Inference
		mr.Timeline = thin(res.Timeline, 250)
		mr.Phases = &PhaseCounts{Init: res.Init, Steps: res.Steps, Readout: res.Readout}
	} else {
		mr.Counts = mr.Counts.Add(res.Inference)
	}
	mr.StepLatency += res.StepLatency() / float64(nb)
	mr.ImageLatency += res.InferenceEnd / float64(nb)
	for _, v := range res.Energy[len(res.Energy)-1] {
		mr.FinalDiscrepancy += v / float64(nb)
	}
	for l, n := range res.StateLag {
		mr.StateLag[l] += n
	}
	for l, n := range res.ErrorLag {
		mr.ErrorLag[l] += n
	}
}

// runTraining runs one training batch, sync, under enc, on the
// populations' own copy of the kernels.
func (s *study) runTraining(a *hwsim.Arch, mp *hwsim.Mapping, enc neuron.Encoding, valueBits int) (*TrainReport, error) {
	cfg := s.engineConfig(hwsim.SyncDynamics, valueBits)
	cfg.Budget, cfg.MaxLag = 0, 0
	eng, err := newEngine(s.encoded(enc), mp, s.B, s.T, true, cfg)
	if err != nil {
		return nil, err
	}
	start, err := s.c.StartMessages(s.batch(0), s.B, 0, rand.New(rand.NewPCG(s.opts.Seed, 1)))
	if err != nil {
		return nil, fmt.Errorf("hwsim: %w", err)
	}
	res, err := eng.RunBatch(start)
	if err != nil {
		return nil, fmt.Errorf("hwsim: %s training batch: %w", a.Name, err)
	}
	tc := res.Total
	tc.Label = fmt.Sprintf("training, T=%d, batch %d, %v", s.T, s.B, enc)
	tcost, err := hwsim.Estimate(mp, tc)
	if err != nil {
		return nil, fmt.Errorf("hwsim: estimate training on %s: %w", a.Name, err)
	}
	return &TrainReport{Encoding: enc.String(), Counts: tc, Learn: res.Learn, Cost: tcost, EnergyPerImage: tcost.EnergyPerImage(),
		VirtualSeconds: float64(s.B)*res.InferenceEnd + (res.End - res.InferenceEnd)}, nil
}

// newEngine builds fresh populations of c and a virtual-time engine over them.
func newEngine(c *circuit.Circuit, mp *hwsim.Mapping, B, T int, learn bool, cfg hwsim.EngineConfig) (*hwsim.Engine, error) {
	refs, pops, err := c.Populations(B, ngc.Reconstruct, learn)
	if err != nil {
		return nil, fmt.Errorf("hwsim: populations: %w", err)
	}
	sp := make([]hwsim.SimPop, len(refs))
	for i, r := range refs {
		sp[i] = pops[r]
	}
	route := func(k neuron.Kind, from neuron.Ref) []neuron.Ref { return c.Receivers(k, from, ngc.Reconstruct, learn) }
	eng, err := hwsim.NewEngine(mp, hwsim.Net{Pops: sp, Route: route, Batch: B, Steps: T, Learn: learn}, cfg)
	if err != nil {
		return nil, fmt.Errorf("hwsim: engine: %w", err)
	}
	return eng, nil
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

// fireRule is the async state maps' firing rule the options choose.
func fireRule(onArrival bool) neuron.FireRule {
	if onArrival {
		return neuron.FireOnArrival
	}
	return neuron.FireOnOwnError
}
