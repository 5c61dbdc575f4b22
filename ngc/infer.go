package ngc

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/tensor"
)

// Workspace holds the states, predictions, errors and scratch buffers of
// inference over one mini-batch of B images. Every per-layer slice uses the
// map-major layout [C_ℓ][B][H_ℓ][W_ℓ] of package tensor. Reuse a workspace
// across batches: after the first use, an inference step allocates nothing.
//
// Inside, the work runs on tiles of tensor.TileImages images (see
// engine.go): the exported slices are where a run leaves its results, not
// where it computes them.
type Workspace struct {
	B int
	// Z are the states z[ℓ], ℓ = 0..L.
	Z [][]float32
	// Mu are the predictions mu[ℓ] of the layers below the top (nil at L).
	Mu [][]float32
	// E are the errors e[ℓ] = z[ℓ] − mu[ℓ] (nil at L, whose error is zero).
	E [][]float32
	// Phi are φ(z[ℓ]) for ℓ ≥ 1 (nil at 0), of the states the last
	// prediction used.
	Phi [][]float32
	// Fb are the bottom-up feedback terms E[ℓ] ∗ e[ℓ−1] of the last
	// correction, for ℓ ≥ 1 (nil at 0).
	Fb [][]float32

	gW  [][]float32 // gradients of W[ℓ] (index ℓ−1), see Gradients
	gB  [][]float32
	m   *Model
	eng engine     // a chain's tiled engine
	gx  *graphExec // any other graph's whole-layer executor
}

// NewWorkspace allocates the buffers for mini-batches of b images.
func (m *Model) NewWorkspace(b int) (*Workspace, error) {
	if b < 1 {
		return nil, fmt.Errorf("ngc: workspace for %d images", b)
	}
	if !m.cfg.Chain() {
		return m.newGraphWorkspace(b), nil
	}
	L := m.cfg.Layers()
	ws := &Workspace{B: b, m: m,
		Z: make([][]float32, L+1), Mu: make([][]float32, L+1), E: make([][]float32, L+1),
		Phi: make([][]float32, L+1), Fb: make([][]float32, L+1)}
	for l := 0; l <= L; l++ {
		n := m.cfg.ChannelsAt(l) * b * m.cfg.SizeAt(l) * m.cfg.SizeAt(l)
		ws.Z[l] = make([]float32, n)
		if l < L {
			ws.Mu[l] = make([]float32, n)
			ws.E[l] = make([]float32, n)
		}
		if l > 0 {
			ws.Phi[l] = make([]float32, n)
			ws.Fb[l] = make([]float32, n)
			s := m.Spec(l, b)
			ws.gW = append(ws.gW, make([]float32, s.KernelLen()))
			ws.gB = append(ws.gB, make([]float32, s.InC))
		}
	}
	if err := ws.eng.init(ws); err != nil {
		return nil, err
	}
	return ws, nil
}

// Task says how the image layer behaves during inference.
type Task int

const (
	// Reconstruct clamps z[0] to the input for all T steps.
	Reconstruct Task = iota
	// Denoise clamps z[0] to the (noisy) input during step 1 only; afterwards
	// it evolves as a free state with d[0] = −e[0].
	Denoise
)

// String names the task.
func (t Task) String() string {
	switch t {
	case Reconstruct:
		return "reconstruct"
	case Denoise:
		return "denoise"
	}
	return fmt.Sprintf("task(%d)", int(t))
}

// Trace is what inference reports: the error energy ½‖e[ℓ]‖² of every layer
// ℓ < L per image (summed over the layer, averaged over the mini-batch) at
// every step, and after the final prediction.
type Trace struct {
	// Steps[t][ℓ] is the energy of layer ℓ computed during step t+1.
	Steps [][]float64 `json:"steps"`
	// Final[ℓ] is the energy of the final prediction from the states after
	// step T (the errors the learning rule uses).
	Final []float64 `json:"final"`
}

// Total returns the total discrepancy Σ_ℓ energy at every step.
func (tr *Trace) Total() []float64 {
	out := make([]float64, len(tr.Steps))
	for t, layers := range tr.Steps {
		for _, v := range layers {
			out[t] += v
		}
	}
	return out
}

// FinalTotal returns Σ_ℓ Final[ℓ].
func (tr *Trace) FinalTotal() float64 {
	var s float64
	for _, v := range tr.Final {
		s += v
	}
	return s
}

// Infer runs T steps of inference on a mini-batch x of ws.B images in the
// image-major layout [B][C][H][W] with values in [0, 1], starting the top
// states from N(μ_z, σ_z) drawn from rng (nil uses the model's own stream,
// seeded by Config.Seed). The prediction x̂ = mu[0] from the final states is
// left in ws.Mu[0] (see Workspace.Output), and every slice of ws holds what
// the last step and the final prediction left. trace may be nil.
//
// Images do not interact during inference, so Infer runs all T steps on one
// tile of images before it moves on to the next, while the tile's states
// stay in the processor's caches, with the tiles spread over GOMAXPROCS
// goroutines. The result is what T calls of Step give.
func (m *Model) Infer(ws *Workspace, x []float32, task Task, rng *rand.Rand, trace *Trace) error {
	return m.infer(ws, x, task, rng, trace, false, runOptions{})
}

// runOptions vary inference for analysis: a shorter window than T, and a
// longer clamp of the image layer in denoising.
type runOptions struct {
	steps int // steps to run (0: T)
	clamp int // denoising: steps z[0] stays clamped (0: 1, the paper's)
}

// infer is Infer; with grad it also computes Gradients from the final
// states, tile by tile while they are in cache.
func (m *Model) infer(ws *Workspace, x []float32, task Task, rng *rand.Rand, trace *Trace, grad bool, ro runOptions) error {
	if err := m.checkBatch(ws, x); err != nil {
		return err
	}
	if rng == nil {
		rng = m.rng
	}
	T := m.cfg.Steps
	if ro.steps > 0 {
		T = ro.steps
	}
	if ws.gx != nil {
		ws.gx.run(x, task, rng, T, max(ro.clamp, 1), trace)
		if grad {
			ws.gx.feedback()
			ws.gx.gradients()
		}
		return nil
	}
	L := m.cfg.Layers()
	m.InitTop(ws.Z[L], rng)
	ws.eng.run(jobSpec{op: opInfer, x: x, steps: T, denoise: task == Denoise, clamp: max(ro.clamp, 1), grad: grad})
	if trace != nil {
		trace.Steps = trace.Steps[:0]
		for t := 0; t < T; t++ {
			trace.Steps = append(trace.Steps, slices.Clone(ws.eng.energies(t)))
		}
		trace.Final = slices.Clone(ws.eng.energies(T))
	}
	return nil
}

// InitTop fills the top states with draws from N(μ_z, σ_z²).
func (m *Model) InitTop(z []float32, rng *rand.Rand) {
	mu, sd := *m.cfg.TopMean, *m.cfg.TopStd
	for i := range z {
		if sd == 0 {
			z[i] = float32(mu)
		} else {
			z[i] = float32(mu + sd*rng.NormFloat64())
		}
	}
}

// Step runs one step of inference in Jacobi order on the states in ws.Z:
// every prediction and error from the current states, then every free
// state moves. The image layer moves too when freeBottom is set. It returns
// the energies of the predictions it computed, per image, in a slice that
// ws owns and the next Step, Predict or Infer overwrites: copy it to keep
// it. Step allocates nothing. ws must have been made by m.
func (m *Model) Step(ws *Workspace, freeBottom bool) []float64 {
	m.mustOwn(ws)
	if ws.gx != nil {
		ws.gx.predict()
		ws.gx.correct(freeBottom)
		return ws.gx.sums
	}
	ws.eng.run(jobSpec{op: opStep, freeBottom: freeBottom})
	return ws.eng.energies(0)
}

// Predict computes mu[ℓ] and e[ℓ] (and φ(z[ℓ])) for every ℓ < L from the
// current states and returns ½‖e[ℓ]‖² per image for each, in a slice that
// ws owns (see Step).
func (m *Model) Predict(ws *Workspace) []float64 {
	m.mustOwn(ws)
	if ws.gx != nil {
		ws.gx.predict()
		return ws.gx.sums
	}
	ws.eng.run(jobSpec{op: opPredict})
	return ws.eng.energies(0)
}

// Correct moves every free state one step using the errors in ws.E (those
// of the last Predict): d[ℓ] = −e[ℓ] + E[ℓ] ∗ e[ℓ−1],
// z[ℓ] ← z[ℓ] + β·d[ℓ] − γ·z[ℓ].
func (m *Model) Correct(ws *Workspace, freeBottom bool) {
	m.mustOwn(ws)
	if ws.gx != nil {
		ws.gx.correct(freeBottom)
		return
	}
	ws.eng.run(jobSpec{op: opCorrect, freeBottom: freeBottom})
}

// mustOwn panics when ws was not made by m. Infer and TrainBatch return
// this as an error; the step-by-step entry points have no error result,
// and a workspace computes with the model that made it.
func (m *Model) mustOwn(ws *Workspace) {
	if ws == nil || ws.m != m {
		panic("ngc: workspace was not made by this model")
	}
}

// feedback returns the kernels of the bottom-up pass into layer ℓ: W[ℓ]
// itself when tied (E = Wᵀ, applied as the adjoint), E[ℓ] when untied.
func (m *Model) feedback(l int) []float32 {
	if s := m.syn[l-1]; s.E != nil {
		return s.E
	}
	return m.syn[l-1].W
}

func (m *Model) stateParams() neuron.StateParams {
	return neuron.StateParams{Beta: float32(m.cfg.Beta), Gamma: float32(*m.cfg.Gamma), PCN: m.cfg.PCN, Phi: m.phi}
}

// Output writes the prediction x̂ = mu[0] of the last Infer into dst in the
// image-major layout [B][C][H][W].
func (ws *Workspace) Output(dst []float32) {
	ly := ws.m.g.Layers[0]
	tensor.FromMapMajor(dst, ws.Mu[0], ws.B, ly.Maps, ly.Size*ly.Size)
}

// Layer writes the states of layer ℓ into dst in the image-major layout
// [B][C_ℓ][H_ℓ][W_ℓ] (for pictures of the latent maps).
func (ws *Workspace) Layer(dst []float32, l int) {
	ly := ws.m.g.Layers[l]
	tensor.FromMapMajor(dst, ws.Z[l], ws.B, ly.Maps, ly.Size*ly.Size)
}

func (m *Model) checkBatch(ws *Workspace, x []float32) error {
	if ws == nil || ws.m != m {
		return fmt.Errorf("ngc: workspace was not made by this model")
	}
	c, s := m.g.Layers[0].Maps, m.g.Layers[0].Size
	if want := ws.B * c * s * s; len(x) != want {
		return fmt.Errorf("ngc: batch has %d floats, want %d (%d images of %d×%d×%d)", len(x), want, ws.B, c, s, s)
	}
	return nil
}

// Corrupt writes x + N(0, std²) noise into dst, clipped to [0, 1] unless
// noClip is set: the paper's denoising input.
func Corrupt(dst, x []float32, std float64, noClip bool, rng *rand.Rand) {
	for i, v := range x {
		n := v + float32(std*rng.NormFloat64())
		if !noClip {
			n = min(max(n, 0), 1)
		}
		dst[i] = n
	}
}
