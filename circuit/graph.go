package circuit

import (
	"fmt"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/graph"
	"github.com/convngc/convngc/ngc/tensor"
)

// Graph is what is wired to what: the one circuit description of package
// ngc/graph, which the batched reference and hwsim consume too. Any NGC
// circuit of convolutional state layers, hierarchical or not (a layer may
// be predicted by several layers, and a layer may predict several, as with
// skip connections), declared in Go, loaded from JSON (LoadGraph), or built
// from an ngc.Config (ConvNGC).
type Graph = graph.Graph

// Layer and Synapse are the parts of a Graph.
type (
	Layer   = graph.Layer
	Synapse = graph.Synapse
)

// ErrGraph reports a circuit description that does not describe a network,
// or parameters that do not fit it.
var ErrGraph = graph.ErrGraph

// LoadGraph reads a graph from a JSON file (graph.Load).
func LoadGraph(path string) (*Graph, error) { return graph.Load(path) }

// ConvNGC returns the graph a config describes: its own graph, or the
// layered Conv-NGC chain of its channels (graph.Chain).
func ConvNGC(cfg ngc.Config) (*Graph, error) {
	rc, err := cfg.Resolve()
	if err != nil {
		return nil, err
	}
	return rc.Graph, nil
}

// checkRunnable reports a graph the actor runtime cannot run.
func checkRunnable(g *Graph) error {
	if err := g.Validate(); err != nil {
		return err
	}
	for i, l := range g.Layers {
		if _, err := outputActivation(l.Output); err != nil {
			return fmt.Errorf("%w: layer %d: %v", ErrGraph, i, err)
		}
	}
	return nil
}

// Populations lists every population of the graph: the state maps of every
// layer, the error maps of every predicted layer, then the maps of every
// residual block (synapse by synapse, stage by stage).
func Populations(g *Graph) []neuron.Ref {
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
	return append(out, blockRefs(g)...)
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
