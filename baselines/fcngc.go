package baselines

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/safetensors"
	"github.com/convngc/convngc/ngc/tensor"
)

// PaperNGCParams is the free parameter count the paper gives for its fully
// connected NGC (Appendix B): 3,072·200 + 3·200·200 = 734,400 weights and
// 3,072 + 3·200 = 3,672 biases. The default NGCConfig has exactly this many.
const PaperNGCParams = 738072

// paperUnits returns the paper NGC's layer sizes from the top down: four
// latent layers of 200 units and the 32×32×3 image.
func paperUnits() []int { return []int{200, 200, 200, 200, 3072} }

// NGCConfig describes a fully connected neural generative coding network
// and how it runs and learns. Its zero value is the paper's NGC (Appendix
// B): state layers of 200, 200, 200, 200 and 3,072 units from the top down;
// leaky-ReLU states, identity predictions except a logistic sigmoid for the
// image; T = 60, β = 0.1, γ = 0.001; top states from N(0.5, 0.05); weights
// from N(0, 0.1²) and zero biases; Adam with step size 0.001 on
// mini-batches of 500; the columns of every synaptic matrix projected to
// norm ≤ 1 after each update.
//
// A zero field means its default; the pointer fields (Gamma, TopMean,
// TopStd), where zero is a setting in its own right, use nil for that.
type NGCConfig struct {
	// Units lists the size of every state layer from the top (layer L)
	// down to the image (layer 0), which holds C·H·W units.
	Units []int `json:"units"`
	// Steps is the stimulus window T (60).
	Steps int `json:"steps"`
	// Beta is the state update rate β (0.1).
	Beta float64 `json:"beta"`
	// Gamma is the state leak γ (0.001, as Conv-NGC).
	Gamma *float64 `json:"gamma"`
	// TopMean and TopStd are the mean and std of the initial top states
	// (0.5 and 0.05); TopStd 0 makes inference deterministic.
	TopMean *float64 `json:"top_mean"`
	TopStd  *float64 `json:"top_std"`
	// SampleLatents draws every latent layer's initial states from
	// N(TopMean, TopStd²), as the paper's NGC paragraph can be read,
	// instead of Conv-NGC's ancestral pass from the top (the default).
	SampleLatents bool `json:"sample_latents"`
	// Phi is the state activation φ ("leaky-relu").
	Phi string `json:"phi"`
	// Output is the image prediction's activation g_0 ("sigmoid"); the
	// other predictions are the identity.
	Output string `json:"output"`
	// PCN multiplies the bottom-up term of the state correction by φ'(z):
	// with tied weights this is Rao & Ballard's hierarchical predictive
	// coding network.
	PCN bool `json:"pcn"`
	// LearningRate is Adam's step size (0.001).
	LearningRate float64 `json:"learning_rate"`
	// Batch is the training mini-batch size (500).
	Batch int `json:"batch"`
	// InitStd is the std of the initial weights (0.1).
	InitStd float64 `json:"init_std"`
	// MaxColumnNorm bounds the Euclidean norm of every column of every
	// synaptic matrix (the weights from one upper unit to the layer below)
	// after each update (1); negative disables the projection.
	MaxColumnNorm float64 `json:"max_column_norm"`
	// Seed makes initialisation, data order and state noise repeatable.
	Seed uint64 `json:"seed"`
}

// Resolve returns c with every default filled in, or an error saying what
// is wrong with it.
func (c NGCConfig) Resolve() (NGCConfig, error) {
	r := c
	if len(r.Units) == 0 {
		r.Units = paperUnits()
	} else {
		r.Units = append([]int(nil), c.Units...)
	}
	setFloat := func(p *float64, d float64) {
		if *p == 0 {
			*p = d
		}
	}
	setPtr := func(p **float64, d float64) {
		if *p == nil {
			*p = ngc.Float(d)
		} else {
			*p = ngc.Float(**p)
		}
	}
	if r.Steps == 0 {
		r.Steps = 60
	}
	if r.Batch == 0 {
		r.Batch = 500
	}
	setFloat(&r.Beta, 0.1)
	setFloat(&r.LearningRate, 0.001)
	setFloat(&r.InitStd, 0.1)
	setFloat(&r.MaxColumnNorm, 1)
	setPtr(&r.Gamma, 0.001)
	setPtr(&r.TopMean, 0.5)
	setPtr(&r.TopStd, 0.05)
	if r.Phi == "" {
		r.Phi = tensor.LeakyReLU.String()
	}
	if r.Output == "" {
		r.Output = tensor.Sigmoid.String()
	}
	if len(r.Units) < 2 {
		return NGCConfig{}, fmt.Errorf("%w: need at least two layers, got units %v", ErrConfig, r.Units)
	}
	total := 0
	for i, u := range r.Units {
		if u <= 0 || u > 1<<16 {
			return NGCConfig{}, fmt.Errorf("%w: units %v must be in [1, 65536]", ErrConfig, r.Units)
		}
		if i > 0 {
			total += u * r.Units[i-1]
		}
	}
	switch {
	case total > 1<<28:
		return NGCConfig{}, fmt.Errorf("%w: units %v give %d weights", ErrConfig, r.Units, total)
	case r.Steps < 1 || r.Batch < 1:
		return NGCConfig{}, fmt.Errorf("%w: steps %d and batch %d must be positive", ErrConfig, r.Steps, r.Batch)
	case r.Beta < 0 || *r.Gamma < 0 || *r.TopStd < 0 || r.LearningRate < 0 || r.InitStd < 0:
		return NGCConfig{}, fmt.Errorf("%w: beta, gamma, top std, learning rate and init std must not be negative", ErrConfig)
	}
	if _, err := tensor.ParseActivation(r.Phi); err != nil {
		return NGCConfig{}, fmt.Errorf("%w: phi: %v", ErrConfig, err)
	}
	if _, err := tensor.ParseActivation(r.Output); err != nil {
		return NGCConfig{}, fmt.Errorf("%w: output: %v", ErrConfig, err)
	}
	return r, nil
}

// Layers returns L, the index of the top layer.
func (c NGCConfig) Layers() int { return len(c.Units) - 1 }

// UnitsAt returns the size of layer ℓ (0 is the image).
func (c NGCConfig) UnitsAt(l int) int { return c.Units[len(c.Units)-1-l] }

// ParamCount returns the number of weights and biases of the network c
// describes: Σ_ℓ n_ℓ·n_{ℓ−1} + n_{ℓ−1}.
func (c NGCConfig) ParamCount() int {
	n := 0
	for l := 1; l < len(c.Units); l++ {
		n += c.UnitsAt(l)*c.UnitsAt(l-1) + c.UnitsAt(l-1)
	}
	return n
}

// NGC is a fully connected neural generative coding network: Conv-NGC's
// dynamics and local learning with dense synaptic matrices instead of
// convolutions. It is not trained by backpropagation.
//
// Layers ℓ = 0..L hold states z[ℓ] (z[0] is the image, flattened C·H·W).
// The prediction of layer ℓ−1 from layer ℓ is
//
//	mu[ℓ−1] = g_{ℓ−1}(W[ℓ]·φ(z[ℓ]) + b[ℓ]),  e[ℓ−1] = z[ℓ−1] − mu[ℓ−1]
//
// with g_0 the Output activation and the identity above. The states move in
// Jacobi order for T steps,
//
//	d[ℓ] = −e[ℓ] + W[ℓ]ᵀ·e[ℓ−1]   (⊙ φ'(z[ℓ]) on the second term with PCN)
//	z[ℓ] ← z[ℓ] + β·d[ℓ] − γ·z[ℓ],
//
// with e[L] = 0, z[0] clamped to the image (reconstruction) or clamped in
// step 1 only and then free with d[0] = −e[0] (denoising). After the T
// steps of a training batch, ΔW[ℓ] = e[ℓ−1]·φ(z[ℓ])ᵀ and Δb[ℓ] = e[ℓ−1],
// averaged over the batch — the negative gradient of ½Σ_ℓ‖e[ℓ]‖² with the
// states held fixed (exact for identity predictions; with the sigmoid the
// rule, like Conv-NGC's, omits g'_0) — go to Adam, and every column of W[ℓ]
// is projected to norm ≤ MaxColumnNorm.
//
// W[ℓ] is stored as Conv-NGC stores its kernels, upper layer first:
// [n_ℓ][n_{ℓ−1}], so row i of the storage is column i of the matrix (the
// weights from upper unit i). States are held unit-major, [n_ℓ][B], and a
// dense layer is computed as a 1×1 convolution over a one-row map of the B
// images, with the same tensor.ConvT (prediction), tensor.Conv (feedback)
// and tensor.ConvKernelGrad (update) calls, and the same neuron update
// rules, as Conv-NGC.
type NGC struct {
	cfg     NGCConfig
	phi, g0 tensor.Activation
	w, b    []*Param // w[ℓ−1], b[ℓ−1] for ℓ = 1..L
	ps      paramSet
	ws      *fcWorkspace
}

// fcWorkspace holds the states, predictions, errors and scratch of
// inference over a mini-batch of B images, unit-major ([n_ℓ][B]).
type fcWorkspace struct {
	B                 int
	Z, Mu, E, Phi, Fb [][]float32
	specs             []tensor.ConvSpec // specs[ℓ−1] between ℓ and ℓ−1
	cols              []float32
}

// NewNGC returns a freshly initialised fully connected NGC; zero fields of
// cfg take the paper's values.
func NewNGC(cfg NGCConfig) (*NGC, error) {
	rc, err := cfg.Resolve()
	if err != nil {
		return nil, err
	}
	phi, _ := tensor.ParseActivation(rc.Phi)
	g0, _ := tensor.ParseActivation(rc.Output)
	m := &NGC{cfg: rc, phi: phi, g0: g0}
	rng := rand.New(rand.NewPCG(rc.Seed, streamInit))
	var params []*Param
	for l := 1; l <= rc.Layers(); l++ {
		up, low := rc.UnitsAt(l), rc.UnitsAt(l-1)
		w := newParam(fmt.Sprintf("W.%d", l), true, up, low)
		for i := range w.Value {
			w.Value[i] = float32(rng.NormFloat64() * rc.InitStd)
		}
		b := newParam(fmt.Sprintf("b.%d", l), true, low)
		m.w, m.b = append(m.w, w), append(m.b, b)
		params = append(params, w, b)
	}
	m.ps = newParamSet(params, nil, rc.LearningRate)
	return m, nil
}

// Name implements Model: "ngc", or "pcn" with the PCN variant.
func (m *NGC) Name() string {
	if m.cfg.PCN {
		return "pcn"
	}
	return kindNGC
}

// Config returns the resolved configuration.
func (m *NGC) Config() NGCConfig { return m.cfg }

// Params implements Model: the number of weights and biases (738,072 for
// the paper's network).
func (m *NGC) Params() int { return m.ps.count() }

// Updates returns the number of training updates so far.
func (m *NGC) Updates() int { return m.ps.updates }

// Weights returns W[ℓ] ([n_ℓ][n_{ℓ−1}]) and b[ℓ] ([n_{ℓ−1}]) for ℓ = 1..L.
// The slices are the model's own: writing them changes the model.
func (m *NGC) Weights(l int) (w, b []float32) { return m.w[l-1].Value, m.b[l-1].Value }

func (m *NGC) workspace(b int) *fcWorkspace {
	if m.ws != nil && m.ws.B == b {
		return m.ws
	}
	L := m.cfg.Layers()
	ws := &fcWorkspace{B: b, Z: make([][]float32, L+1), Mu: make([][]float32, L+1), E: make([][]float32, L+1),
		Phi: make([][]float32, L+1), Fb: make([][]float32, L+1)}
	maxCols := 0
	for l := 0; l <= L; l++ {
		n := m.cfg.UnitsAt(l) * b
		ws.Z[l] = make([]float32, n)
		if l < L {
			ws.Mu[l] = make([]float32, n)
			ws.E[l] = make([]float32, n)
		}
		if l > 0 {
			ws.Phi[l] = make([]float32, n)
			ws.Fb[l] = make([]float32, n)
			s := denseSpec(m.cfg.UnitsAt(l-1), m.cfg.UnitsAt(l), b)
			ws.specs = append(ws.specs, s)
			maxCols = max(maxCols, s.ColsLen())
		}
	}
	ws.cols = make([]float32, maxCols)
	m.ws = ws
	return ws
}

// infer runs T steps of inference on x (image-major [B][n_0]) in ws,
// starting the latent states from rng, and leaves the final prediction
// x̂ = mu[0] in ws.Mu[0]. trace may be nil.
func (m *NGC) infer(ws *fcWorkspace, x []float32, task ngc.Task, rng *rand.Rand, trace *ngc.Trace) {
	L := m.cfg.Layers()
	mu, sd := *m.cfg.TopMean, *m.cfg.TopStd
	draw := func(z []float32) {
		for i := range z {
			z[i] = float32(mu + sd*rng.NormFloat64())
		}
	}
	draw(ws.Z[L])
	for l := L; l >= 1; l-- {
		m.predictLayer(ws, l)
		if l-1 >= 1 {
			if m.cfg.SampleLatents {
				draw(ws.Z[l-1])
			} else {
				copy(ws.Z[l-1], ws.Mu[l-1])
			}
		}
	}
	tensor.ToMapMajor(ws.Z[0], x, ws.B, m.cfg.UnitsAt(0), 1)
	if trace != nil {
		trace.Steps = trace.Steps[:0]
	}
	p := neuron.StateParams{Beta: float32(m.cfg.Beta), Gamma: float32(*m.cfg.Gamma), PCN: m.cfg.PCN, Phi: m.phi}
	for t := 1; t <= m.cfg.Steps; t++ {
		en := m.predict(ws)
		for l := 1; l <= L; l++ {
			s := ws.specs[l-1]
			tensor.Conv(ws.Fb[l], ws.E[l-1], m.w[l-1].Value, ws.cols[:s.ColsLen()], s)
			neuron.Correct(ws.Z[l], ws.E[l], ws.Fb[l], p)
		}
		if task == ngc.Denoise && t >= 2 {
			neuron.Correct(ws.Z[0], ws.E[0], nil, p)
		}
		if trace != nil {
			trace.Steps = append(trace.Steps, en)
		}
	}
	en := m.predict(ws)
	if trace != nil {
		trace.Final = en
	}
}

// predict computes mu[ℓ] and e[ℓ] for every ℓ < L from the current states
// and returns ½‖e[ℓ]‖² per image for each.
func (m *NGC) predict(ws *fcWorkspace) []float64 {
	L := m.cfg.Layers()
	en := make([]float64, L)
	for l := L; l >= 1; l-- {
		en[l-1] = m.predictLayer(ws, l) / float64(ws.B)
	}
	return en
}

// predictLayer computes φ(z[ℓ]), mu[ℓ−1] and e[ℓ−1] and returns the summed
// energy of e[ℓ−1].
func (m *NGC) predictLayer(ws *fcWorkspace, l int) float64 {
	s := ws.specs[l-1]
	m.phi.Apply(ws.Phi[l], ws.Z[l])
	tensor.ConvT(ws.Mu[l-1], ws.Phi[l], m.w[l-1].Value, ws.cols[:s.ColsLen()], s)
	g := tensor.Identity
	if l == 1 {
		g = m.g0
	}
	neuron.Predict(ws.Mu[l-1], m.b[l-1].Value, ws.B, g)
	return neuron.Error(ws.E[l-1], ws.Z[l-1], ws.Mu[l-1])
}

// gradients writes into the parameters' Grad the gradient of the total
// discrepancy, averaged over the batch, with the states fixed, from the
// errors and φ(z) of the last predict: the negative Hebbian update.
func (m *NGC) gradients(ws *fcWorkspace) {
	alpha := -1 / float32(ws.B)
	for l := 1; l <= m.cfg.Layers(); l++ {
		s := ws.specs[l-1]
		tensor.ConvKernelGrad(m.w[l-1].Grad, ws.E[l-1], ws.Phi[l], ws.cols[:s.ColsLen()], s, alpha, 0)
		neuron.BiasGrad(m.b[l-1].Grad, ws.E[l-1], ws.B, alpha)
	}
}

// learn applies one local update from the states in ws (after infer).
func (m *NGC) learn(ws *fcWorkspace) {
	m.gradients(ws)
	m.ps.step()
	for l := 1; l <= m.cfg.Layers(); l++ {
		neuron.ProjectKernels(m.w[l-1].Value, m.cfg.UnitsAt(l-1), m.cfg.MaxColumnNorm)
	}
}

func (m *NGC) checkBatch(x []float32) (int, error) {
	n0 := m.cfg.UnitsAt(0)
	if len(x) == 0 || len(x)%n0 != 0 {
		return 0, fmt.Errorf("baselines: %s: batch of %d values is not a whole number of %d-unit images", m.Name(), len(x), n0)
	}
	return len(x) / n0, nil
}

// TrainBatch runs reconstruction inference on a mini-batch x of images,
// image-major ([B][n_0], values in [0, 1]), then the local update, and
// returns the total discrepancy per image after the T steps (the energy the
// update descends). The initial states are drawn from the seed and the
// update count.
func (m *NGC) TrainBatch(x []float32) (float64, error) {
	b, err := m.checkBatch(x)
	if err != nil {
		return 0, err
	}
	ws := m.workspace(b)
	var tr ngc.Trace
	m.infer(ws, x, ngc.Reconstruct, batchRand(m.cfg.Seed, streamStates, m.ps.updates), &tr)
	m.learn(ws)
	return tr.FinalTotal(), nil
}

// Infer runs the task on the images x (image-major [B][n_0]) and writes
// the prediction x̂ = mu[0] from the final states into dst (same layout;
// nil skips it). The initial latent states are drawn from rng; trace, when
// not nil, receives the energy of every layer at every step.
func (m *NGC) Infer(dst, x []float32, task ngc.Task, rng *rand.Rand, trace *ngc.Trace) error {
	b, err := m.checkBatch(x)
	if err != nil {
		return err
	}
	if dst != nil && len(dst) != len(x) {
		return fmt.Errorf("baselines: %s: output of %d values for %d inputs", m.Name(), len(dst), len(x))
	}
	if task != ngc.Reconstruct && task != ngc.Denoise {
		return fmt.Errorf("baselines: %s: unknown task %v", m.Name(), task)
	}
	if rng == nil {
		return fmt.Errorf("baselines: %s: Infer needs a random source", m.Name())
	}
	ws := m.workspace(b)
	m.infer(ws, x, task, rng, trace)
	if dst != nil {
		tensor.FromMapMajor(dst, ws.Mu[0], b, m.cfg.UnitsAt(0), 1)
	}
	return nil
}

// Batch implements Model.
func (m *NGC) Batch() int { return m.cfg.Batch }

// Seed implements Model.
func (m *NGC) Seed() uint64 { return m.cfg.Seed }

// Objective implements Model: "energy".
func (m *NGC) Objective() string { return "energy" }

// Checkpoint implements Model.
func (m *NGC) Checkpoint() (*safetensors.File, error) { return m.ps.file(kindNGC, m.cfg) }

// CheckFinite implements Model.
func (m *NGC) CheckFinite() error { return m.ps.checkFinite() }

// LearningRate implements Model.
func (m *NGC) LearningRate() float64 { return m.cfg.LearningRate }

// SetLearningRate implements Model.
func (m *NGC) SetLearningRate(lr float64) { m.cfg.LearningRate = lr; m.ps.setLR(lr) }

// Fit implements Model: epochs of shuffled full mini-batches (see
// TrainBatch); FitResult.Loss holds the energy per image of every batch.
func (m *NGC) Fit(ctx context.Context, set *data.Set, opts FitOptions) (FitResult, error) {
	if err := checkSet(m.Name(), set, m.cfg.UnitsAt(0)); err != nil {
		return FitResult{}, err
	}
	return fit(ctx, m.Name(), "energy", set, opts, m.cfg.Batch, m.cfg.Seed, m.TrainBatch)
}

// Evaluate implements Model, as ngc.Model.Evaluate: the latent states
// start from opts.Seed, and the result also holds the mean energy per image
// of every layer at every step, and the states of every layer of the first
// Keep images (Latents[ℓ], layout [Keep][n_ℓ]).
func (m *NGC) Evaluate(ctx context.Context, set *data.Set, opts ngc.EvalOptions) (ngc.EvalResult, error) {
	if err := checkSet(m.Name(), set, m.cfg.UnitsAt(0)); err != nil {
		return ngc.EvalResult{}, err
	}
	states := rand.New(rand.NewPCG(opts.Seed, streamEvalStates))
	keep := min(max(opts.Keep, 0), set.Len())
	var tr ngc.Trace
	res, err := evaluate(ctx, m.Name(), set, opts, m.cfg.Batch, func(out, in []float32, n, lo int, res *ngc.EvalResult) error {
		if err := m.Infer(out, in, opts.Task, states, &tr); err != nil {
			return err
		}
		if res.Energy == nil {
			res.Energy = make([]float64, len(tr.Steps))
			res.EnergyLayers = make([][]float64, len(tr.Steps))
			for t := range res.EnergyLayers {
				res.EnergyLayers[t] = make([]float64, len(tr.Steps[t]))
			}
		}
		for t, layers := range tr.Steps {
			for l, v := range layers {
				res.EnergyLayers[t][l] += v * float64(n)
				res.Energy[t] += v * float64(n)
			}
		}
		if lo < keep {
			k := min(keep-lo, n)
			if res.Latents == nil {
				res.Latents = make([][]float32, m.cfg.Layers()+1)
			}
			for l := range res.Latents {
				u := m.cfg.UnitsAt(l)
				all := make([]float32, n*u)
				tensor.FromMapMajor(all, m.ws.Z[l], n, u, 1)
				res.Latents[l] = append(res.Latents[l], all[:k*u]...)
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for t := range res.Energy {
		res.Energy[t] /= float64(res.Images)
		for l := range res.EnergyLayers[t] {
			res.EnergyLayers[t][l] /= float64(res.Images)
		}
	}
	return res, nil
}

// Save implements Model: a safetensors file with the config as JSON in
// __metadata__["config"], "ngc" in ["model"], W.ℓ of shape [n_ℓ, n_{ℓ−1}]
// and b.ℓ of shape [n_{ℓ−1}] for ℓ = 1..L (Conv-NGC's names and layout),
// and Adam's moments ("adam.m.W.ℓ", ...).
func (m *NGC) Save(path string) error { return m.ps.save(path, kindNGC, m.cfg) }
