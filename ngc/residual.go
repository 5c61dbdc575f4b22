package ngc

import (
	"fmt"

	"github.com/convngc/convngc/ngc/graph"
)

// WithResidual returns c with its chain (Channels) made a graph in which
// every plain stride-2 synapse is the paper's Appendix C residual block
// (graph.Residual) of width maps inside, whose error pathway is pathway
// (graph.PathwayLRA or graph.PathwayExact). c must describe a chain, not
// a graph of its own.
func (c Config) WithResidual(width int, pathway string) (Config, error) {
	if c.Graph != nil {
		return Config{}, fmt.Errorf("%w: residual blocks are built from a chain, not from a graph", ErrConfig)
	}
	if pathway != graph.PathwayLRA && pathway != graph.PathwayExact {
		return Config{}, fmt.Errorf("%w: pathway %q: want %s or %s", ErrConfig, pathway, graph.PathwayLRA, graph.PathwayExact)
	}
	rc, err := c.Resolve()
	if err != nil {
		return Config{}, err
	}
	g, err := graph.Residual(rc.Graph, width)
	if err != nil {
		return Config{}, err
	}
	for i := range g.Synapses {
		if b := g.Synapses[i].Block; b != nil {
			b.Pathway = pathway
		}
	}
	c.Graph, c.Channels = g, nil
	return c, nil
}
