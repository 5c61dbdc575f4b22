// Package graph describes a neural generative coding circuit: which layers
// of state maps exist, and which synapses let a layer predict another. It
// is the one description every driver consumes: the batched reference
// (package ngc), the actor runtime (package circuit, sync and async) and
// hwsim's virtual-time engine. A checkpoint stores it.
//
// A Graph is a set of layers of convolutional state maps and a set of
// synapses. A synapse joins an upper layer From to a lower layer To: the
// upper layer's states predict the lower layer's, and the lower layer's
// errors flow back to correct the upper layer. A plain synapse is one
// transposed convolution (the paper's Eq. 1); a synapse with a Block is a
// stack of transposed convolutions, pools and activations with a skip term,
// whose intermediate activities are not states (the paper's Appendix C,
// Eq. 7-12). A layer may be predicted by several layers and may predict
// several, as with skip synapses; there must be no cycle, and the layers
// nothing predicts are the tops, whose states start from the top-state
// distribution.
//
// Chain builds the paper's hierarchical network; Residual turns its
// synapses into residual blocks.
package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/convngc/convngc/ngc/tensor"
)

// ErrGraph reports a description that does not describe a circuit.
var ErrGraph = errors.New("graph: invalid circuit")

// Layer is a layer of state maps (and of error maps, if anything predicts
// it).
type Layer struct {
	// Maps is the number of feature maps, Size their side in pixels.
	Maps int `json:"maps"`
	Size int `json:"size"`
	// Image marks an input layer, clamped to the data.
	Image bool `json:"image,omitempty"`
	// Output is g, the activation of predictions onto this layer:
	// "identity" (default) or "sigmoid".
	Output string `json:"output,omitempty"`
}

// Synapse lets every map of layer From predict every map of layer To (and,
// the other way, carries To's errors back to correct From).
type Synapse struct {
	From   int `json:"from"`   // predicting (upper) layer
	To     int `json:"to"`     // predicted (lower) layer
	Kernel int `json:"kernel"` // side of the square kernels of a plain synapse
	// Stride of a plain synapse: Size(To) = Stride·Size(From), up to SAME
	// rounding.
	Stride int `json:"stride"`
	// Block, when set, replaces the single transposed convolution by a
	// residual block (Kernel and Stride are then unused and zero).
	Block *Block `json:"block,omitempty"`
}

// Graph is what is wired to what.
type Graph struct {
	Layers   []Layer   `json:"layers"`
	Synapses []Synapse `json:"synapses"`
}

// Load reads a graph from a JSON file such as
//
//	{"layers": [{"maps": 3, "size": 32, "image": true}, {"maps": 8, "size": 16}, {"maps": 4, "size": 8}],
//	 "synapses": [{"from": 1, "to": 0, "kernel": 3, "stride": 2},
//	              {"from": 2, "to": 1, "kernel": 3, "stride": 2},
//	              {"from": 2, "to": 0, "kernel": 5, "stride": 4}]}
func Load(path string) (*Graph, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	g, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Parse decodes and validates a graph from JSON. Unknown fields are
// refused, so that a misspelt key is not silently ignored.
func Parse(b []byte) (*Graph, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var g Graph
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGraph, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the graph", ErrGraph)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// Chain returns the paper's hierarchical network: channels lists the maps
// of every layer from the top down to the image's colour channels, layer ℓ
// predicted by layer ℓ+1 through kernel×kernel transposed convolutions of
// the given stride, layer 0 the image of imageSize pixels a side (its
// predictions through a sigmoid when bottomSigmoid is set). Synapse i joins
// layer i+1 to layer i.
func Chain(channels []int, imageSize, kernel, stride int, bottomSigmoid bool) (*Graph, error) {
	if len(channels) < 2 {
		return nil, fmt.Errorf("%w: need at least two layers, got channels %v", ErrGraph, channels)
	}
	if stride < 1 {
		return nil, fmt.Errorf("%w: stride %d", ErrGraph, stride)
	}
	g := &Graph{}
	size := imageSize
	for l := 0; l < len(channels); l++ {
		ly := Layer{Maps: channels[len(channels)-1-l], Size: size, Image: l == 0}
		if l == 0 && bottomSigmoid {
			ly.Output = "sigmoid"
		}
		g.Layers = append(g.Layers, ly)
		if l > 0 {
			g.Synapses = append(g.Synapses, Synapse{From: l, To: l - 1, Kernel: kernel, Stride: stride})
		}
		size = (size + stride - 1) / stride
	}
	return g, g.Validate()
}

// Validate reports whether g is a usable circuit: every synapse joins two
// distinct layers with a geometry that maps one size onto the other, no
// layer predicts itself through a cycle, image layers predict nothing,
// every layer but an image predicts something, and there is at least one
// image layer.
func (g *Graph) Validate() error {
	if len(g.Layers) < 2 {
		return fmt.Errorf("%w: %d layers", ErrGraph, len(g.Layers))
	}
	images := 0
	for i, l := range g.Layers {
		if l.Maps < 1 || l.Size < 1 {
			return fmt.Errorf("%w: layer %d has %d maps of %d pixels", ErrGraph, i, l.Maps, l.Size)
		}
		if l.Output != "" && l.Output != "identity" && l.Output != "sigmoid" {
			return fmt.Errorf("%w: layer %d: output %q (want identity or sigmoid)", ErrGraph, i, l.Output)
		}
		if l.Image {
			images++
		}
	}
	if images == 0 {
		return fmt.Errorf("%w: no image layer", ErrGraph)
	}
	seen := map[[2]int]bool{}
	for i, s := range g.Synapses {
		if s.From < 0 || s.From >= len(g.Layers) || s.To < 0 || s.To >= len(g.Layers) || s.From == s.To {
			return fmt.Errorf("%w: synapse %d joins layers %d and %d", ErrGraph, i, s.From, s.To)
		}
		if seen[[2]int{s.From, s.To}] {
			return fmt.Errorf("%w: two synapses from layer %d to %d", ErrGraph, s.From, s.To)
		}
		seen[[2]int{s.From, s.To}] = true
		if g.Layers[s.From].Image {
			return fmt.Errorf("%w: synapse %d: image layer %d predicts", ErrGraph, i, s.From)
		}
		if err := g.checkSynapse(s); err != nil {
			return fmt.Errorf("%w: synapse %d (%d→%d): %v", ErrGraph, i, s.From, s.To, err)
		}
	}
	if _, err := g.TopDown(); err != nil {
		return err
	}
	for i, l := range g.Layers {
		if !l.Image && len(g.Below(i)) == 0 {
			return fmt.Errorf("%w: layer %d predicts nothing", ErrGraph, i)
		}
	}
	return nil
}

// checkSynapse checks a synapse's geometry.
func (g *Graph) checkSynapse(s Synapse) error {
	from, to := g.Layers[s.From], g.Layers[s.To]
	if s.Block != nil {
		if s.Kernel != 0 || s.Stride != 0 {
			return errors.New("a block synapse has its kernels in its stages: kernel and stride must be 0")
		}
		return s.Block.check(from, to)
	}
	geom, err := tensor.SameGeom(to.Size, to.Size, s.Kernel, s.Stride)
	if err != nil {
		return err
	}
	if geom.OutH != from.Size {
		return fmt.Errorf("stride %d takes %d pixels to %d, but layer %d has %d", s.Stride, to.Size, geom.OutH, s.From, from.Size)
	}
	return nil
}

// TopDown orders the layers so that every layer comes before the layers it
// predicts.
func (g *Graph) TopDown() ([]int, error) {
	indeg := make([]int, len(g.Layers))
	for _, s := range g.Synapses {
		indeg[s.To]++
	}
	var order, queue []int
	for i, d := range indeg {
		if d == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		order = append(order, l)
		for _, s := range g.Synapses {
			if s.From == l {
				if indeg[s.To]--; indeg[s.To] == 0 {
					queue = append(queue, s.To)
				}
			}
		}
	}
	if len(order) != len(g.Layers) {
		return nil, fmt.Errorf("%w: the synapses form a cycle", ErrGraph)
	}
	return order, nil
}

// Above returns the indices of the synapses predicting layer l.
func (g *Graph) Above(l int) []int {
	var out []int
	for i, s := range g.Synapses {
		if s.To == l {
			out = append(out, i)
		}
	}
	return out
}

// Below returns the indices of the synapses by which layer l predicts.
func (g *Graph) Below(l int) []int {
	var out []int
	for i, s := range g.Synapses {
		if s.From == l {
			out = append(out, i)
		}
	}
	return out
}

// Top reports whether layer l is predicted by nothing (it has no error
// maps; its states start from the top-state distribution).
func (g *Graph) Top(l int) bool { return len(g.Above(l)) == 0 }

// IsChain reports whether g is the hierarchical network Chain builds: layer
// 0 the image, and plain synapse i joining layer i+1 to layer i, with one
// kernel size and stride throughout.
func (g *Graph) IsChain() bool {
	if len(g.Synapses) != len(g.Layers)-1 {
		return false
	}
	for i, l := range g.Layers {
		if l.Image != (i == 0) || (i > 0 && l.Output != "" && l.Output != "identity") {
			return false
		}
	}
	for i, s := range g.Synapses {
		if s.From != i+1 || s.To != i || s.Block != nil || s.Kernel != g.Synapses[0].Kernel || s.Stride != g.Synapses[0].Stride {
			return false
		}
	}
	return true
}

// Spec returns the convolution of plain synapse si for mini-batches of b
// images: the strided SAME convolution from To's size down to From's, whose
// adjoint is the prediction. Kernel taps use ngc-learn's deconvolution
// orientation (tensor.ConvSpec.Flip).
func (g *Graph) Spec(si, b int) tensor.ConvSpec {
	s := g.Synapses[si]
	lo := g.Layers[s.To]
	geom, _ := tensor.SameGeom(lo.Size, lo.Size, s.Kernel, s.Stride)
	return tensor.ConvSpec{Geom: geom, Batch: b, InC: lo.Maps, OutC: g.Layers[s.From].Maps, Flip: true}
}

// Clone returns a deep copy of g.
func (g *Graph) Clone() *Graph {
	c := &Graph{Layers: slices.Clone(g.Layers), Synapses: slices.Clone(g.Synapses)}
	for i, s := range c.Synapses {
		if s.Block != nil {
			b := *s.Block
			b.Stages = slices.Clone(b.Stages)
			c.Synapses[i].Block = &b
		}
	}
	return c
}

// Equal reports whether g and h describe the same circuit.
func (g *Graph) Equal(h *Graph) bool {
	a, _ := json.Marshal(g)
	b, _ := json.Marshal(h)
	return string(a) == string(b)
}
