package study

import (
	"reflect"
	"slices"
	"testing"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/graph"
)

// TestCircuitMatchesRuntime: the circuit hwsim maps, built from the
// graph alone, has the actor runtime's populations and exactly the links
// its routing joins by φ(z), state, error, block activity and block
// perturbation messages, on the paper network, on a graph with a skip
// synapse, and on residual-block networks (Appendix C), whose
// intermediate maps are populations in both.
func TestCircuitMatchesRuntime(t *testing.T) {
	skip := hwsim.PaperNetwork().Clone()
	skip.Synapses = append(skip.Synapses, graph.Synapse{From: 2, To: 0, Kernel: 5, Stride: 4})
	residual, err := graph.Residual(hwsim.PaperNetwork(), 4)
	if err != nil {
		t.Fatal(err)
	}
	residualSkip, err := graph.Residual(skip, 4)
	if err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]*graph.Graph{"paper": hwsim.PaperNetwork(), "skip": skip, "residual": residual, "residual+skip": residualSkip} {
		m, err := ngc.New(ngc.Config{Graph: g})
		if err != nil {
			t.Fatal(err)
		}
		c, err := circuit.FromModel(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range []ngc.Task{ngc.Reconstruct, ngc.Denoise} {
			mode := hwsim.Reconstruct
			if task == ngc.Denoise {
				mode = hwsim.Denoise
			}
			hc, err := hwsim.CircuitOf(g, mode, 32)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range hc.Populations {
				names = append(names, p.Name)
			}
			var refs []string
			want := map[string]bool{}
			for _, r := range circuit.Populations(c.Graph) {
				refs = append(refs, r.String())
				kinds := []neuron.Kind{neuron.KindPhi, neuron.KindState}
				switch r.Role {
				case neuron.ErrorRole:
					kinds = []neuron.Kind{neuron.KindError}
				case neuron.BlockRole:
					kinds = []neuron.Kind{neuron.KindHidden, neuron.KindPerturb}
				}
				for _, k := range kinds {
					for _, to := range c.Receivers(k, r, task, false) {
						want[r.String()+">"+to.String()] = true
					}
				}
			}
			slices.Sort(names)
			slices.Sort(refs)
			if !slices.Equal(names, refs) {
				t.Errorf("%s %v: hwsim has %d populations, the runtime %d", name, task, len(names), len(refs))
			}
			got := map[string]bool{}
			for _, l := range hc.Links {
				got[l.From+">"+l.To] = true
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %v: hwsim has %d links, the runtime's routing %d (or they differ)", name, task, len(got), len(want))
			}
		}
	}
}
