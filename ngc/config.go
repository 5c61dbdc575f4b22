package ngc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/graph"
	"github.com/convngc/convngc/ngc/tensor"
)

// ErrConfig reports a configuration that does not describe a network.
var ErrConfig = errors.New("ngc: invalid config")

// Float returns a pointer to v, for the Config fields where zero is a
// meaningful setting distinct from "use the default" (for example
// Config{TopStd: ngc.Float(0)} for deterministic runs).
func Float(v float64) *float64 { return &v }

// Config describes a Conv-NGC network and how it runs and learns. Its zero
// value is the paper's network (Appendix B): channels 10, 15, 20, 25, 3 from
// the top down; 3×3 kernels, stride 2, SAME padding; leaky-ReLU states and
// identity predictions; T = 60, β = 0.1, γ = 0.001; top states from
// N(0.5, 0.05); kernels from N(0, 0.1); Adam with lr 0.001 and mini-batches
// of 500; every kernel re-projected to norm ≤ 1 after each update.
//
// A zero field means its default. Fields where zero is a setting in its own
// right (Gamma, TopMean, TopStd, Lambda, InitStd) are pointers: nil means
// the default. Beta, LearningRate and MaxKernelNorm have no meaningful zero
// (states that never move, a model that never learns, kernels projected to
// nothing): there zero is the default, and commands refuse an explicit 0.
type Config struct {
	// Graph is the circuit: its layers and synapses (package graph). When
	// nil, the chain fields below build the paper's hierarchical network
	// (graph.Chain); when set, they must be zero or agree with it, and
	// Resolve fills them in for a chain (for any other graph Channels stays
	// nil and ImageSize is the image layer's size). The batched reference
	// needs exactly one image layer, layer 0. A resolved config always
	// holds its graph, and a checkpoint stores it.
	Graph *graph.Graph `json:"graph,omitempty"`
	// Channels lists the maps of every state layer from the top (layer L)
	// down to the image (layer 0, its colour channels).
	Channels []int `json:"channels"`
	// ImageSize is the side of the square image in pixels (32).
	ImageSize int `json:"image_size"`
	// Kernel is the side of every square kernel (3).
	Kernel int `json:"kernel"`
	// Stride between layers (2): layer ℓ has ceil(size_{ℓ−1}/Stride) pixels a side.
	Stride int `json:"stride"`

	// Steps is the stimulus window T (60).
	Steps int `json:"steps"`
	// Beta is the state update rate β (0.1).
	Beta float64 `json:"beta"`
	// Gamma is the state leak γ (0.001).
	Gamma *float64 `json:"gamma"`
	// TopMean and TopStd are μ_z and σ_z of the top states' initial values
	// (0.5 and 0.05); TopStd 0 makes inference deterministic.
	TopMean *float64 `json:"top_mean"`
	TopStd  *float64 `json:"top_std"`
	// Phi is the state activation φ ("leaky-relu"; also "relu", "identity",
	// "sigmoid", "selu").
	Phi string `json:"phi"`
	// BottomSigmoid makes the image prediction g_0 a logistic sigmoid
	// (identity otherwise, as in the paper's Conv-NGC).
	BottomSigmoid bool `json:"bottom_sigmoid"`
	// PCN multiplies the bottom-up term of the state correction by φ'(z).
	PCN bool `json:"pcn"`
	// Untied gives every layer separate, learnable error kernels E instead of
	// using the prediction kernels W (tied, the default).
	Untied bool `json:"untied"`
	// Lambda scales the update of the error kernels E in untied mode (1);
	// 0 keeps E fixed at its initial values (feedback alignment). nil means
	// the default.
	Lambda *float64 `json:"lambda"`

	// Optimizer is "adam" (default) or "normalized", the paper's
	// per-kernel normalised step of Algorithm 2.
	Optimizer string `json:"optimizer"`
	// LearningRate is Adam's step size or the normalised step's α (0.001).
	LearningRate float64 `json:"learning_rate"`
	// MaxKernelNorm bounds every kernel's Euclidean norm after each update
	// (1); negative disables the projection.
	MaxKernelNorm float64 `json:"max_kernel_norm"`
	// InitStd is the standard deviation of the initial kernels (0.1); 0
	// starts every kernel at zero. nil means the default.
	InitStd *float64 `json:"init_std"`
	// Batch is the training mini-batch size (500).
	Batch int `json:"batch"`
	// Seed makes initialisation and inference noise repeatable.
	Seed uint64 `json:"seed"`
}

// PaperChannels are the paper network's channels from the top down.
var PaperChannels = []int{10, 15, 20, 25, 3}

// Resolve returns c with every default filled in, or an error saying what
// is wrong with it.
func (c Config) Resolve() (Config, error) {
	r := c
	if c.Graph != nil {
		return c.resolveGraph()
	}
	if len(r.Channels) == 0 {
		r.Channels = append([]int(nil), PaperChannels...)
	} else {
		r.Channels = append([]int(nil), c.Channels...)
	}
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
	setPtr := func(p **float64, d float64) {
		if *p == nil {
			*p = Float(d)
		} else {
			*p = Float(**p)
		}
	}
	setInt(&r.ImageSize, 32)
	setInt(&r.Kernel, 3)
	setInt(&r.Stride, 2)
	setInt(&r.Steps, 60)
	setInt(&r.Batch, 500)
	setFloat(&r.Beta, 0.1)
	setFloat(&r.LearningRate, 0.001)
	setFloat(&r.MaxKernelNorm, 1)
	setPtr(&r.Lambda, 1)
	setPtr(&r.InitStd, 0.1)
	setPtr(&r.Gamma, 0.001)
	setPtr(&r.TopMean, 0.5)
	setPtr(&r.TopStd, 0.05)
	if r.Phi == "" {
		r.Phi = tensor.LeakyReLU.String()
	}
	if r.Optimizer == "" {
		r.Optimizer = "adam"
	}

	if len(r.Channels) < 2 {
		return Config{}, fmt.Errorf("%w: need at least two layers, got channels %v", ErrConfig, r.Channels)
	}
	for _, ch := range r.Channels {
		if ch <= 0 {
			return Config{}, fmt.Errorf("%w: channels %v must be positive", ErrConfig, r.Channels)
		}
	}
	switch {
	case r.ImageSize < 1, r.Kernel < 1, r.Stride < 1, r.Steps < 1, r.Batch < 1:
		return Config{}, fmt.Errorf("%w: image size %d, kernel %d, stride %d, steps %d and batch %d must be positive",
			ErrConfig, r.ImageSize, r.Kernel, r.Stride, r.Steps, r.Batch)
	}
	for _, f := range []struct {
		name string
		v    float64
		min  float64 // smallest allowed value; -Inf: any finite value
	}{
		{"beta", r.Beta, 0}, {"gamma", *r.Gamma, 0}, {"top mean", *r.TopMean, math.Inf(-1)}, {"top std", *r.TopStd, 0},
		{"learning rate", r.LearningRate, 0}, {"lambda", *r.Lambda, 0}, {"max kernel norm", r.MaxKernelNorm, math.Inf(-1)},
		{"init std", *r.InitStd, 0},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return Config{}, fmt.Errorf("%w: %s is %v: want a finite number", ErrConfig, f.name, f.v)
		}
		if f.v < f.min {
			return Config{}, fmt.Errorf("%w: %s is %v: must not be negative", ErrConfig, f.name, f.v)
		}
	}
	if _, err := tensor.ParseActivation(r.Phi); err != nil {
		return Config{}, fmt.Errorf("%w: phi: %v", ErrConfig, err)
	}
	if r.Optimizer != "adam" && r.Optimizer != "normalized" {
		return Config{}, fmt.Errorf("%w: optimizer %q (want adam or normalized)", ErrConfig, r.Optimizer)
	}
	g, err := graph.Chain(r.Channels, r.ImageSize, r.Kernel, r.Stride, r.BottomSigmoid)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	r.Graph = g
	return r, nil
}

// resolveGraph resolves a config given by its graph.
func (c Config) resolveGraph() (Config, error) {
	g := c.Graph.Clone()
	if err := g.Validate(); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	for i, l := range g.Layers {
		if l.Image != (i == 0) {
			return Config{}, fmt.Errorf("%w: the batched reference needs exactly one image layer, layer 0 (layer %d is not)", ErrConfig, i)
		}
	}
	r := c
	r.Graph, r.Channels, r.ImageSize, r.Kernel, r.Stride, r.BottomSigmoid = nil, nil, 0, 0, 0, false
	if g.IsChain() {
		for l := len(g.Layers) - 1; l >= 0; l-- {
			r.Channels = append(r.Channels, g.Layers[l].Maps)
		}
		r.ImageSize, r.Kernel, r.Stride = g.Layers[0].Size, g.Synapses[0].Kernel, g.Synapses[0].Stride
		r.BottomSigmoid = g.Layers[0].Output == "sigmoid"
	}
	given := c
	given.Graph = nil
	rc, err := r.Resolve()
	if err != nil {
		return Config{}, err
	}
	if !g.IsChain() {
		rc.Channels, rc.Kernel, rc.Stride = nil, 0, 0
		rc.ImageSize, rc.BottomSigmoid = g.Layers[0].Size, g.Layers[0].Output == "sigmoid"
	} else {
		for _, f := range []struct {
			name       string
			given, now any
			set        bool
		}{
			{"channels", given.Channels, rc.Channels, len(given.Channels) > 0},
			{"image size", given.ImageSize, rc.ImageSize, given.ImageSize != 0},
			{"kernel", given.Kernel, rc.Kernel, given.Kernel != 0},
			{"stride", given.Stride, rc.Stride, given.Stride != 0},
		} {
			if f.set && fmt.Sprint(f.given) != fmt.Sprint(f.now) {
				return Config{}, fmt.Errorf("%w: %s %v disagrees with the graph's %v", ErrConfig, f.name, f.given, f.now)
			}
		}
	}
	rc.Graph = g
	return rc, nil
}

// Chain reports whether the config's network is a hierarchical chain
// (graph.Graph.IsChain), which Channels, ImageSize, Kernel and Stride
// describe and the tiled inference engine runs.
func (c Config) Chain() bool { return c.Graph == nil || c.Graph.IsChain() }

// Layers is L, the index of the top layer of a chain (the number of
// synaptic layers); for any graph, the number of layers less one.
func (c Config) Layers() int {
	if c.Graph != nil {
		return len(c.Graph.Layers) - 1
	}
	return len(c.Channels) - 1
}

// ChannelsAt returns C_ℓ, the number of maps of layer ℓ (0 = image).
func (c Config) ChannelsAt(l int) int {
	if c.Graph != nil {
		return c.Graph.Layers[l].Maps
	}
	return c.Channels[len(c.Channels)-1-l]
}

// CheckImages refuses, with an error wrapping ErrConfig, a config whose
// images are not those every data set of package data holds (data.Height ×
// data.Width pixels, data.Channels colour channels).
func (c Config) CheckImages() error {
	if c.ImageSize != data.Height || c.ChannelsAt(0) != data.Channels {
		return &imagesError{c.ImageSize, c.ChannelsAt(0)}
	}
	return nil
}

// imagesError is CheckImages' refusal: its message says what the model
// takes and what the data sets hold, and it wraps ErrConfig.
type imagesError struct{ size, channels int }

func (e *imagesError) Error() string {
	return fmt.Sprintf("the model takes %d×%d images of %d channels, the data sets hold %d×%d×%d",
		e.size, e.size, e.channels, data.Height, data.Width, data.Channels)
}

func (e *imagesError) Unwrap() error { return ErrConfig }

// SizeAt returns the side in pixels of the maps of layer ℓ.
func (c Config) SizeAt(l int) int {
	if c.Graph != nil {
		return c.Graph.Layers[l].Size
	}
	s := c.ImageSize
	for i := 0; i < l; i++ {
		s = (s + c.Stride - 1) / c.Stride
	}
	return s
}

// String renders the resolved config as JSON.
func (c Config) String() string {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Sprintf("ngc.Config(%v)", err)
	}
	return string(b)
}
