package circuit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/convngc/convngc/neuron"
)

// Placement assigns the populations of a circuit to named nodes (processes,
// possibly on different machines). In JSON:
//
//	{"nodes": {"a": ["z.0.*", "e.0.*", "z.1.*"], "b": ["e.1.*", "z.2.*", "e.2.*", "z.3.*", "e.3.*", "z.4.*"]}}
//
// Patterns are population names ("z.<layer>.<map>", "e.<layer>.<map>" and,
// for a residual block's maps, "h.<synapse>.<stage>.<map>") in which "*"
// stands for one whole token. Every population must match exactly
// one node.
type Placement struct {
	Nodes map[string][]string `json:"nodes"`
}

// LoadPlacement reads a placement from a JSON file.
func LoadPlacement(path string) (*Placement, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("circuit: %w", err)
	}
	p, err := ParsePlacement(b)
	if err != nil {
		return nil, fmt.Errorf("circuit: placement %s: %w", path, err)
	}
	return p, nil
}

// ErrPlacement reports a placement that is not valid JSON of the expected
// form.
var ErrPlacement = errors.New("circuit: invalid placement")

// ParsePlacement decodes a placement from JSON, {"nodes": {"NODE":
// ["PATTERN", ...], ...}}, refusing unknown fields and trailing data. Whether
// it covers a graph is Assign's to say.
func ParsePlacement(b []byte) (*Placement, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Placement
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlacement, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrPlacement)
	}
	if len(p.Nodes) == 0 {
		return nil, fmt.Errorf("%w: no nodes", ErrPlacement)
	}
	return &p, nil
}

// Local places every population on one node.
func Local(node string) *Placement {
	return &Placement{Nodes: map[string][]string{node: {"*.*.*", "h.*.*.*"}}}
}

// NodeNames returns the nodes in sorted order.
func (p *Placement) NodeNames() []string {
	var out []string
	for n := range p.Nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Assign maps every population of g to its node, or reports the first
// population that matches no node or several.
func (p *Placement) Assign(g *Graph) (map[neuron.Ref]string, error) {
	out := map[neuron.Ref]string{}
	for _, ref := range Populations(g) {
		name := ref.String()
		var at []string
		for _, node := range p.NodeNames() {
			for _, pat := range p.Nodes[node] {
				if matchRef(pat, name) {
					at = append(at, node)
					break
				}
			}
		}
		switch len(at) {
		case 0:
			return nil, fmt.Errorf("circuit: placement puts %s on no node", name)
		case 1:
			out[ref] = at[0]
		default:
			return nil, fmt.Errorf("circuit: placement puts %s on several nodes (%s)", name, strings.Join(at, ", "))
		}
	}
	return out, nil
}

// OnNode lists the populations of g that the placement gives to node.
func (p *Placement) OnNode(g *Graph, node string) ([]neuron.Ref, error) {
	as, err := p.Assign(g)
	if err != nil {
		return nil, err
	}
	var out []neuron.Ref
	for _, ref := range Populations(g) {
		if as[ref] == node {
			out = append(out, ref)
		}
	}
	return out, nil
}

func matchRef(pattern, name string) bool {
	pt, nt := strings.Split(pattern, "."), strings.Split(name, ".")
	if len(pt) != len(nt) {
		return false
	}
	for i := range pt {
		if pt[i] != "*" && pt[i] != nt[i] {
			return false
		}
	}
	return true
}
