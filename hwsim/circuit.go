package hwsim

import (
	"fmt"
)

// Population is one actor to place: a feature map's state population or
// error population.
//
// Hardware processes one image at a time, so every size here is per image:
// a map of H×W pixels is Neurons = H·W units whatever the mini-batch size.
type Population struct {
	// Name identifies the population, e.g. "z.1.3" or "e.0.2"; unique
	// within a circuit.
	Name string
	// Neurons is the number of units per image, H·W; at least 1.
	Neurons int
	// Synapses is the number of distinct weights the population owns: the
	// kernel taps on its dendrites, e.g. C_up·9 for the error map that
	// holds W[ℓ+1]_{·j}, or C_low·9 for a state map's E[ℓ]_{·i}.
	Synapses int
	// SynapticOps is the number of multiply-accumulates the population
	// does per image per step (padding taps included), e.g.
	// C_up·9·H_up·W_up for an error map's prediction. It is also the
	// number of distinct connections, the synapses stored by an
	// architecture with an unrolled synapse layout.
	SynapticOps int64
	// Bits is the width of the graded values the population sends (8, 16
	// or 32); 0 means 32.
	Bits int
}

// Link is a directed connection: every step, population From sends one
// message carrying ValuesPerMsg values (per image: H·W of the sender's map)
// to population To.
type Link struct {
	From, To     string
	ValuesPerMsg int
}

// Circuit is what Map places: populations and the links between them.
// Map places populations in the order given, so listing them layer by layer
// keeps linked maps close on the mesh.
type Circuit struct {
	Populations []Population
	Links       []Link
}

// index checks the circuit and returns the population index by name.
func (c Circuit) index() (map[string]int, error) {
	if len(c.Populations) == 0 {
		return nil, fmt.Errorf("%w: no populations", ErrInvalidCircuit)
	}
	idx := make(map[string]int, len(c.Populations))
	for i, p := range c.Populations {
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("%w: population %d has no name", ErrInvalidCircuit, i)
		case p.Neurons < 1:
			return nil, fmt.Errorf("%w: population %s: %d neurons", ErrInvalidCircuit, p.Name, p.Neurons)
		case p.Synapses < 0:
			return nil, fmt.Errorf("%w: population %s: %d synapses", ErrInvalidCircuit, p.Name, p.Synapses)
		case p.SynapticOps < 0:
			return nil, fmt.Errorf("%w: population %s: %d synaptic ops", ErrInvalidCircuit, p.Name, p.SynapticOps)
		case p.Bits < 0 || p.Bits > 32:
			return nil, fmt.Errorf("%w: population %s: %d bits", ErrInvalidCircuit, p.Name, p.Bits)
		}
		if _, dup := idx[p.Name]; dup {
			return nil, fmt.Errorf("%w: population %s listed twice", ErrInvalidCircuit, p.Name)
		}
		idx[p.Name] = i
	}
	for i, l := range c.Links {
		if _, ok := idx[l.From]; !ok {
			return nil, fmt.Errorf("%w: link %d: unknown sender %q", ErrInvalidCircuit, i, l.From)
		}
		if _, ok := idx[l.To]; !ok {
			return nil, fmt.Errorf("%w: link %d: unknown receiver %q", ErrInvalidCircuit, i, l.To)
		}
		if l.ValuesPerMsg < 1 {
			return nil, fmt.Errorf("%w: link %s→%s: %d values per message", ErrInvalidCircuit, l.From, l.To, l.ValuesPerMsg)
		}
	}
	return idx, nil
}
