package baselines

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/safetensors"
	"github.com/convngc/convngc/ngc/tensor"
)

// ErrConfig reports a configuration that does not describe a model.
var ErrConfig = errors.New("baselines: invalid config")

// PaperAEParams is the trainable parameter count the paper gives for its
// Conv-AE and Conv-DAE (Appendix B). The default architecture (see
// AEConfig) has exactly this many.
const PaperAEParams = 48393

// AEConfig describes a Conv-AE or Conv-DAE and how it trains. Its zero
// value, given to NewConvAE or NewConvDAE, is the paper's setting (Appendix
// B) in the architecture described below: 32 maps, 3×3 kernels, Glorot
// initialisation, Adam with step size 2e-5, mini-batches of 128, a sigmoid
// output; ReLU for Conv-AE and SELU for Conv-DAE, which trains on inputs
// corrupted with Gaussian noise of std 0.1 clipped to [0, 1].
//
// # Architecture
//
// The paper's encoder of five blocks, each a 3×3 stride-2 SAME convolution,
// the activation, batch norm and a stride-2 max-pool, divides the image
// side by 4 per block, so it cannot be followed literally: 32×32 reaches
// 1×1 within three blocks. The paper also gives 48,393 trainable
// parameters, a count that seven 3×3 convolutions — one 3→32, five 32→32,
// one 32→3, with biases (896 + 5·9,248 + 867) — and seven batch norms — six
// over 32 maps, one over 3 (6·64 + 6) — make up exactly. We take that as the
// layer inventory (the paper's decoder is not described), keep the block as
// the paper defines it and use two of them, then mirror their four halvings
// with transposed convolutions:
//
//	enc1  conv 3→32 s2, act, BN(32), max-pool 2×2 s2     32×32 → 16 → 8
//	enc2  conv 32→32 s2, act, BN(32), max-pool 2×2 s2     8×8 → 4 → 2
//	dec1…dec4  transposed conv 32→32 s2, act, BN(32)    2 → 4 → 8 → 16 → 32
//	out   transposed conv 32→3 s1, BN(3), sigmoid       32×32×3
//
// The bottleneck is 32 maps of 2×2 (128 values per image; Conv-NGC's top
// layer holds 40). With Maps = 32 and Channels = 3 this has 48,393
// trainable parameters (PaperAEParams): 47,808 kernel weights, 195 biases
// and 390 batch-norm scales and shifts; the batch norms also keep 390
// running statistics, which are not trainable. The side of the image must
// be a multiple of 16.
type AEConfig struct {
	// ImageSize is the side of the square images (32); a multiple of 16.
	ImageSize int `json:"image_size"`
	// Channels of the images (3).
	Channels int `json:"channels"`
	// Maps of every hidden layer (32).
	Maps int `json:"maps"`
	// Activation of the hidden layers: "relu" for Conv-AE, "selu" for
	// Conv-DAE by default; any activation of package tensor.
	Activation string `json:"activation"`
	// Loss is the training loss, "bce" (default) or "mse". The paper does
	// not name it; binary cross-entropy is the usual choice for a sigmoid
	// output on [0, 1] pixels and keeps its gradient when the sigmoid
	// saturates.
	Loss string `json:"loss"`
	// LearningRate is Adam's step size (2e-5, as the paper; a short
	// training budget needs a larger one, such as 1e-3).
	LearningRate float64 `json:"learning_rate"`
	// Batch is the training mini-batch size (128).
	Batch int `json:"batch"`
	// BNMomentum and BNEpsilon are the batch norms' running-average
	// momentum (0.99) and ε (0.001), Keras' defaults. Evaluation uses the
	// running averages, which after n updates hold only 1 − Momentumⁿ of
	// the batch statistics' weight: for runs of a few hundred updates a
	// lower momentum (such as 0.9) evaluates more faithfully.
	BNMomentum float64 `json:"bn_momentum"`
	BNEpsilon  float64 `json:"bn_epsilon"`
	// NoiseStd is the std of the Gaussian noise added to the Conv-DAE's
	// training inputs (0.1); fresh noise is drawn for every mini-batch.
	// NoClip keeps noisy pixels outside [0, 1]. Both are ignored by
	// Conv-AE.
	NoiseStd float64 `json:"noise_std"`
	NoClip   bool    `json:"no_clip"`
	// Seed makes initialisation, data order and noise repeatable.
	Seed uint64 `json:"seed"`
}

// resolve returns c with every default filled in for the given kind, or an
// error saying what is wrong with it.
func (c AEConfig) resolve(kind string) (AEConfig, error) {
	r := c
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setFloat := func(p *float64, d float64) {
		if *p == 0 {
			*p = d
		}
	}
	setInt(&r.ImageSize, 32)
	setInt(&r.Channels, 3)
	setInt(&r.Maps, 32)
	setInt(&r.Batch, 128)
	setFloat(&r.LearningRate, 2e-5)
	setFloat(&r.BNMomentum, 0.99)
	setFloat(&r.BNEpsilon, 1e-3)
	setFloat(&r.NoiseStd, 0.1)
	if r.Activation == "" {
		r.Activation = tensor.ReLU.String()
		if kind == kindDAE {
			r.Activation = tensor.SELU.String()
		}
	}
	if r.Loss == "" {
		r.Loss = BCE.String()
	}
	switch {
	case r.ImageSize < 16 || r.ImageSize%16 != 0:
		return AEConfig{}, fmt.Errorf("%w: image size %d is not a positive multiple of 16", ErrConfig, r.ImageSize)
	case r.Channels < 1 || r.Maps < 1 || r.Batch < 1:
		return AEConfig{}, fmt.Errorf("%w: channels %d, maps %d and batch %d must be positive", ErrConfig, r.Channels, r.Maps, r.Batch)
	case r.LearningRate < 0 || r.NoiseStd < 0 || r.BNEpsilon < 0 || r.BNMomentum < 0 || r.BNMomentum > 1:
		return AEConfig{}, fmt.Errorf("%w: learning rate %g, noise std %g, bn epsilon %g and bn momentum %g out of range",
			ErrConfig, r.LearningRate, r.NoiseStd, r.BNEpsilon, r.BNMomentum)
	case r.ImageSize > 1<<12 || r.Channels > 1<<12 || r.Maps > 1<<12:
		return AEConfig{}, fmt.Errorf("%w: image size %d, channels %d or maps %d too large", ErrConfig, r.ImageSize, r.Channels, r.Maps)
	}
	if _, err := tensor.ParseActivation(r.Activation); err != nil {
		return AEConfig{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if _, err := ParseLoss(r.Loss); err != nil {
		return AEConfig{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return r, nil
}

// paramCount is the number of trainable parameters of the architecture of
// a resolved config.
func (c AEConfig) paramCount() int {
	m, ch := c.Maps, c.Channels
	weights := 9 * (ch*m + 5*m*m + m*ch)
	biases := 6*m + ch
	bn := 2 * (6*m + ch)
	return weights + biases + bn
}

// Autoencoder is a Conv-AE or Conv-DAE (see AEConfig), trained by
// backpropagation. It is not safe for concurrent use.
type Autoencoder struct {
	kind string
	cfg  AEConfig
	loss Loss
	net  *Sequential
	ps   paramSet

	in     Shape     // input shape of the current setup
	x, t   []float32 // map-major network input and target
	p      []float32 // predictions sigmoid(logits), map-major
	grad   []float32 // loss gradient with respect to the logits
	noisy  []float32 // image-major corrupted batch (Conv-DAE)
	imgLen int
}

// NewConvAE returns a freshly initialised Conv-AE (ReLU); zero fields of
// cfg take the paper's values.
func NewConvAE(cfg AEConfig) (*Autoencoder, error) { return newAutoencoder(kindAE, cfg) }

// NewConvDAE returns a freshly initialised Conv-DAE (SELU, trained on noisy
// inputs); zero fields of cfg take the paper's values.
func NewConvDAE(cfg AEConfig) (*Autoencoder, error) { return newAutoencoder(kindDAE, cfg) }

func newAutoencoder(kind string, cfg AEConfig) (*Autoencoder, error) {
	rc, err := cfg.resolve(kind)
	if err != nil {
		return nil, err
	}
	act, _ := tensor.ParseActivation(rc.Activation)
	loss, _ := ParseLoss(rc.Loss)
	net, err := buildAE(rc, act, rand.New(rand.NewPCG(rc.Seed, streamInit)))
	if err != nil {
		return nil, err
	}
	return &Autoencoder{kind: kind, cfg: rc, loss: loss, net: net,
		ps:     newParamSet(net.Params(), net.State(), rc.LearningRate),
		imgLen: rc.Channels * rc.ImageSize * rc.ImageSize}, nil
}

// buildAE assembles the architecture documented on AEConfig, without the
// final sigmoid (which Loss.EvalSigmoid handles with the loss).
func buildAE(c AEConfig, act tensor.Activation, rng *rand.Rand) (*Sequential, error) {
	var layers []Layer
	var errs []error
	bn := func(name string, ch int) {
		b, err := NewBatchNorm(name, ch, c.BNMomentum, c.BNEpsilon)
		layers, errs = append(layers, b), append(errs, err)
	}
	for i, in := range []int{c.Channels, c.Maps} {
		name := fmt.Sprintf("enc%d", i+1)
		conv, err := NewConv2D(name+".conv", in, c.Maps, 3, 2, rng)
		pool, perr := NewMaxPool(2, 2)
		errs = append(errs, err, perr)
		layers = append(layers, conv, NewAct(act))
		bn(name+".bn", c.Maps)
		layers = append(layers, pool)
	}
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("dec%d", i)
		d, err := NewConvTranspose2D(name+".deconv", c.Maps, c.Maps, 3, 2, rng)
		errs = append(errs, err)
		layers = append(layers, d, NewAct(act))
		bn(name+".bn", c.Maps)
	}
	out, err := NewConvTranspose2D("out.deconv", c.Maps, c.Channels, 3, 1, rng)
	errs = append(errs, err)
	layers = append(layers, out)
	bn("out.bn", c.Channels)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return NewSequential(layers...), nil
}

// Name implements Model: "conv-ae" or "conv-dae".
func (a *Autoencoder) Name() string { return a.kind }

// Config returns the resolved configuration.
func (a *Autoencoder) Config() AEConfig { return a.cfg }

// Params implements Model: the number of trainable parameters (48,393 in
// the default configuration).
func (a *Autoencoder) Params() int { return a.ps.count() }

// Updates returns the number of training updates so far.
func (a *Autoencoder) Updates() int { return a.ps.updates }

// Network returns the layers (without the final sigmoid). They are the
// model's own: changing them changes the model.
func (a *Autoencoder) Network() *Sequential { return a.net }

// setup prepares the buffers for a batch of len(x) values and checks it.
func (a *Autoencoder) setup(x []float32) (int, error) {
	if len(x) == 0 || len(x)%a.imgLen != 0 {
		return 0, fmt.Errorf("baselines: %s: batch of %d values is not a whole number of %d×%d×%d images",
			a.kind, len(x), a.cfg.Channels, a.cfg.ImageSize, a.cfg.ImageSize)
	}
	b := len(x) / a.imgLen
	in := Shape{C: a.cfg.Channels, B: b, H: a.cfg.ImageSize, W: a.cfg.ImageSize}
	if in != a.in {
		if _, err := a.net.Setup(in); err != nil {
			return 0, fmt.Errorf("baselines: %s: %w", a.kind, err)
		}
		a.in = in
		a.x = grow(a.x, len(x))
		a.t = grow(a.t, len(x))
		a.p = grow(a.p, len(x))
		a.grad = grow(a.grad, len(x))
		a.noisy = grow(a.noisy, len(x))
	}
	return b, nil
}

// TrainBatch takes one Adam step on a mini-batch x of images, image-major
// ([B][C][H][W], values in [0, 1]), and returns the loss on the batch
// before the step. The Conv-DAE trains on x corrupted with fresh Gaussian
// noise (drawn from the seed and the update count) against the clean x.
func (a *Autoencoder) TrainBatch(x []float32) (float64, error) {
	b, err := a.setup(x)
	if err != nil {
		return 0, err
	}
	plane := a.cfg.ImageSize * a.cfg.ImageSize
	tensor.ToMapMajor(a.t, x, b, a.cfg.Channels, plane)
	in := a.t
	if a.kind == kindDAE {
		ngc.Corrupt(a.noisy, x, a.cfg.NoiseStd, a.cfg.NoClip, batchRand(a.cfg.Seed, streamNoise, a.ps.updates))
		tensor.ToMapMajor(a.x, a.noisy, b, a.cfg.Channels, plane)
		in = a.x
	}
	logits := a.net.Forward(in, true)
	tensor.Sigmoid.Apply(a.p, logits)
	loss, err := a.loss.EvalSigmoid(a.grad, a.p, a.t)
	if err != nil {
		return 0, fmt.Errorf("baselines: %s: %w", a.kind, err)
	}
	a.net.Backward(a.grad)
	a.ps.step()
	return loss, nil
}

// Reconstruct writes into dst the output for the images x (both
// image-major, [B][C][H][W]), in evaluation mode: batch norms use their
// running statistics.
func (a *Autoencoder) Reconstruct(dst, x []float32) error {
	b, err := a.setup(x)
	if err != nil {
		return err
	}
	if len(dst) != len(x) {
		return fmt.Errorf("baselines: %s: output of %d values for %d inputs", a.kind, len(dst), len(x))
	}
	plane := a.cfg.ImageSize * a.cfg.ImageSize
	tensor.ToMapMajor(a.x, x, b, a.cfg.Channels, plane)
	tensor.Sigmoid.Apply(a.p, a.net.Forward(a.x, false))
	tensor.FromMapMajor(dst, a.p, b, a.cfg.Channels, plane)
	return nil
}

// Fit implements Model: epochs of shuffled full mini-batches (see
// TrainBatch); FitResult.Loss holds the training loss of every batch.
func (a *Autoencoder) Fit(ctx context.Context, set *data.Set, opts FitOptions) (FitResult, error) {
	if err := checkSet(a.kind, set, a.imgLen); err != nil {
		return FitResult{}, err
	}
	return fit(ctx, a.kind, a.loss.String(), set, opts, a.cfg.Batch, a.cfg.Seed, a.TrainBatch)
}

// Evaluate implements Model: the output of the model for the clean images
// (reconstruction) or for their corrupted copies (denoising), measured
// against the clean images. opts.Batch overrides the configured batch size;
// the result carries no energies or latents.
func (a *Autoencoder) Evaluate(ctx context.Context, set *data.Set, opts ngc.EvalOptions) (ngc.EvalResult, error) {
	if err := checkSet(a.kind, set, a.imgLen); err != nil {
		return ngc.EvalResult{}, err
	}
	return evaluate(ctx, a.kind, set, opts, a.cfg.Batch, func(out, in []float32, _, _ int, _ *ngc.EvalResult) error {
		return a.Reconstruct(out, in)
	})
}

// Batch implements Model.
func (a *Autoencoder) Batch() int { return a.cfg.Batch }

// Seed implements Model.
func (a *Autoencoder) Seed() uint64 { return a.cfg.Seed }

// Objective implements Model: the loss, "bce" or "mse".
func (a *Autoencoder) Objective() string { return a.loss.String() }

// Checkpoint implements Model.
func (a *Autoencoder) Checkpoint() (*safetensors.File, error) { return a.ps.file(a.kind, a.cfg) }

// CheckFinite implements Model.
func (a *Autoencoder) CheckFinite() error { return a.ps.checkFinite() }

// LearningRate implements Model.
func (a *Autoencoder) LearningRate() float64 { return a.cfg.LearningRate }

// SetLearningRate implements Model.
func (a *Autoencoder) SetLearningRate(lr float64) { a.cfg.LearningRate = lr; a.ps.setLR(lr) }

// Save implements Model: a safetensors file with the config as JSON in
// __metadata__["config"], the model kind in ["model"], every parameter under
// its layer name (for example "enc1.conv.weight", shape [32, 3, 3, 3]), the
// batch norms' running statistics and Adam's moments ("adam.m.<name>",
// "adam.v.<name>").
func (a *Autoencoder) Save(path string) error { return a.ps.save(path, a.kind, a.cfg) }
