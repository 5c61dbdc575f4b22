package circuit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/tensor"
)

// ErrGraph reports a circuit description that does not describe a network.
var ErrGraph = errors.New("circuit: invalid graph")

// Layer is a layer of state maps (and of error maps, if anything predicts it).
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

// Synapse is a bundle of kernels by which every map of layer From predicts
// every map of layer To (and, transposed, carries To's errors back to From).
type Synapse struct {
	From   int `json:"from"`   // predicting (upper) layer
	To     int `json:"to"`     // predicted (lower) layer
	Kernel int `json:"kernel"` // side of the square kernels
	Stride int `json:"stride"` // Size(To) = Stride·Size(From) up to SAME rounding
}

// Graph is what is wired to what: any NGC circuit of convolutional state
// layers, hierarchical or not (a layer may be predicted by several layers,
// and a layer may predict several, as with skip connections). It is
// declared in Go, loaded from JSON (LoadGraph), or built from an ngc.Config
// (ConvNGC).
type Graph struct {
	Layers   []Layer   `json:"layers"`
	Synapses []Synapse `json:"synapses"`
}

// LoadGraph reads a graph from a JSON file such as
//
//	{"layers": [{"maps": 3, "size": 32, "image": true}, {"maps": 8, "size": 16}, {"maps": 4, "size": 8}],
//	 "synapses": [{"from": 1, "to": 0, "kernel": 3, "stride": 2},
//	              {"from": 2, "to": 1, "kernel": 3, "stride": 2},
//	              {"from": 2, "to": 0, "kernel": 5, "stride": 4}]}
func LoadGraph(path string) (*Graph, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("circuit: %w", err)
	}
	var g Graph
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrGraph, path, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &g, nil
}

// ConvNGC returns the layered Conv-NGC graph a config describes: layer ℓ
// predicted by ℓ+1 through 3×3 stride-2 kernels (by default), layer 0 the image.
func ConvNGC(cfg ngc.Config) (*Graph, error) {
	rc, err := cfg.Resolve()
	if err != nil {
		return nil, err
	}
	g := &Graph{}
	for l := 0; l <= rc.Layers(); l++ {
		ly := Layer{Maps: rc.ChannelsAt(l), Size: rc.SizeAt(l), Image: l == 0}
		if l == 0 && rc.BottomSigmoid {
			ly.Output = "sigmoid"
		}
		g.Layers = append(g.Layers, ly)
		if l > 0 {
			g.Synapses = append(g.Synapses, Synapse{From: l, To: l - 1, Kernel: rc.Kernel, Stride: rc.Stride})
		}
	}
	return g, g.Validate()
}

// Validate reports whether g is a usable circuit: every synapse joins two
// distinct layers with a geometry that maps one size onto the other, no
// layer predicts itself through a cycle, image layers predict nothing, and
// there is at least one image layer.
func (g *Graph) Validate() error {
	if len(g.Layers) < 2 {
		return fmt.Errorf("%w: %d layers", ErrGraph, len(g.Layers))
	}
	images := 0
	for i, l := range g.Layers {
		if l.Maps < 1 || l.Size < 1 {
			return fmt.Errorf("%w: layer %d has %d maps of %d pixels", ErrGraph, i, l.Maps, l.Size)
		}
		if _, err := outputActivation(l.Output); err != nil {
			return fmt.Errorf("%w: layer %d: %v", ErrGraph, i, err)
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
		geom, err := tensor.SameGeom(g.Layers[s.To].Size, g.Layers[s.To].Size, s.Kernel, s.Stride)
		if err != nil {
			return fmt.Errorf("%w: synapse %d: %v", ErrGraph, i, err)
		}
		if geom.OutH != g.Layers[s.From].Size {
			return fmt.Errorf("%w: synapse %d: stride %d takes %d pixels to %d, but layer %d has %d",
				ErrGraph, i, s.Stride, g.Layers[s.To].Size, geom.OutH, s.From, g.Layers[s.From].Size)
		}
	}
	// Every layer above the image must be reachable downwards to it, and
	// there must be no cycle: a topological order by synapses exists.
	if _, err := g.topDown(); err != nil {
		return err
	}
	for i, l := range g.Layers {
		if !l.Image && len(g.below(i)) == 0 {
			return fmt.Errorf("%w: layer %d predicts nothing", ErrGraph, i)
		}
	}
	return nil
}

// topDown orders the layers so that every layer comes before the layers it
// predicts.
func (g *Graph) topDown() ([]int, error) {
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

// above returns the synapses predicting layer l; below those from l.
func (g *Graph) above(l int) []int {
	var out []int
	for i, s := range g.Synapses {
		if s.To == l {
			out = append(out, i)
		}
	}
	return out
}

func (g *Graph) below(l int) []int {
	var out []int
	for i, s := range g.Synapses {
		if s.From == l {
			out = append(out, i)
		}
	}
	return out
}

// Top reports whether layer l is predicted by nothing (it has no error maps).
func (g *Graph) Top(l int) bool { return len(g.above(l)) == 0 }

// Spec returns synapse si's convolution for mini-batches of b images, in
// whole-layer form (InC = maps below, OutC = maps above).
func (g *Graph) Spec(si, b int) tensor.ConvSpec {
	s := g.Synapses[si]
	lo := g.Layers[s.To].Size
	geom, _ := tensor.SameGeom(lo, lo, s.Kernel, s.Stride)
	return tensor.ConvSpec{Geom: geom, Batch: b, InC: g.Layers[s.To].Maps, OutC: g.Layers[s.From].Maps, Flip: true}
}

// Populations lists every population of the graph: the state maps of every
// layer and the error maps of every predicted layer.
func (g *Graph) Populations() []neuron.Ref {
	var out []neuron.Ref
	for l, ly := range g.Layers {
		for i := 0; i < ly.Maps; i++ {
			out = append(out, neuron.Ref{Role: neuron.StateRole, Layer: l, Index: i})
		}
	}
	for l, ly := range g.Layers {
		if g.Top(l) {
			continue
		}
		for j := 0; j < ly.Maps; j++ {
			out = append(out, neuron.Ref{Role: neuron.ErrorRole, Layer: l, Index: j})
		}
	}
	return out
}

func outputActivation(name string) (tensor.Activation, error) {
	switch name {
	case "", "identity":
		return tensor.Identity, nil
	case "sigmoid":
		return tensor.Sigmoid, nil
	}
	return 0, fmt.Errorf("prediction output %q (want identity or sigmoid)", name)
}
