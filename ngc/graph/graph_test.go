package graph

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestChainIsThePaperNetwork(t *testing.T) {
	g, err := Chain([]int{10, 15, 20, 25, 3}, 32, 3, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{32, 16, 8, 4, 2}
	maps := []int{3, 25, 20, 15, 10}
	for l, ly := range g.Layers {
		if ly.Size != sizes[l] || ly.Maps != maps[l] || ly.Image != (l == 0) {
			t.Errorf("layer %d: %+v", l, ly)
		}
	}
	if !g.IsChain() || !g.Top(4) || g.Top(3) {
		t.Errorf("chain: IsChain %v, Top(4) %v, Top(3) %v", g.IsChain(), g.Top(4), g.Top(3))
	}
	if s := g.Spec(0, 5); s.InC != 3 || s.OutC != 25 || s.OutH != 16 || s.Batch != 5 {
		t.Errorf("spec of synapse 0: %+v", s)
	}
	order, err := g.TopDown()
	if err != nil || order[0] != 4 || order[4] != 0 {
		t.Errorf("top-down order %v, %v", order, err)
	}
}

func TestValidate(t *testing.T) {
	chain := func() *Graph {
		g, err := Chain([]int{4, 6, 3}, 16, 3, 2, false)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	for _, tc := range []struct {
		name   string
		change func(*Graph)
		want   string
	}{
		{"one layer", func(g *Graph) { g.Layers = g.Layers[:1]; g.Synapses = nil }, "1 layers"},
		{"no maps", func(g *Graph) { g.Layers[1].Maps = 0 }, "0 maps"},
		{"no image", func(g *Graph) { g.Layers[0].Image = false }, "no image layer"},
		{"bad output", func(g *Graph) { g.Layers[0].Output = "tanh" }, "output"},
		{"self", func(g *Graph) { g.Synapses[0].From = 0 }, "joins layers 0 and 0"},
		{"duplicate", func(g *Graph) { g.Synapses = append(g.Synapses, g.Synapses[0]) }, "two synapses"},
		{"image predicts", func(g *Graph) { g.Synapses[0] = Synapse{From: 0, To: 1, Kernel: 3, Stride: 2} }, "image layer 0 predicts"},
		{"wrong stride", func(g *Graph) { g.Synapses[0].Stride = 4 }, "stride 4"},
		{"cycle", func(g *Graph) {
			g.Layers = append(g.Layers, Layer{Maps: 2, Size: 8})
			g.Synapses = append(g.Synapses, Synapse{From: 1, To: 3, Kernel: 3, Stride: 1}, Synapse{From: 3, To: 1, Kernel: 3, Stride: 1})
		}, "cycle"},
		{"dangling", func(g *Graph) { g.Layers = append(g.Layers, Layer{Maps: 2, Size: 4}) }, "predicts nothing"},
		{"block with kernel", func(g *Graph) { g.Synapses[0].Block = AppendixC(4, 3, 3) }, "kernel and stride must be 0"},
		{"block to wrong maps", func(g *Graph) { g.Synapses[0] = Synapse{From: 1, To: 0, Block: AppendixC(4, 5, 3)} }, "layer below has 3"},
		{"pool not dividing", func(g *Graph) {
			g.Synapses[0] = Synapse{From: 1, To: 0, Block: &Block{Stages: []Stage{{Maps: 3, Kernel: 3, Stride: 2, Pool: 3}}}}
		}, "does not divide"},
	} {
		g := chain()
		tc.change(g)
		err := g.Validate()
		if !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an ErrGraph saying %q", tc.name, err, tc.want)
		}
	}
	if err := chain().Validate(); err != nil {
		t.Errorf("chain: %v", err)
	}
}

func TestResidualBlocks(t *testing.T) {
	g, err := Chain([]int{10, 15, 20, 25, 3}, 32, 3, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Residual(g, 8)
	if err != nil {
		t.Fatal(err)
	}
	if r.IsChain() || !g.IsChain() {
		t.Error("Residual changed the original, or its result still reads as a plain chain")
	}
	for i, s := range r.Synapses {
		geo, err := s.Block.Geometry(r.Layers[s.From], r.Layers[s.To], 2)
		if err != nil {
			t.Fatalf("synapse %d: %v", i, err)
		}
		want := []struct{ in, out, h int }{
			{r.Layers[s.From].Size, 2 * r.Layers[s.From].Size, 2 * r.Layers[s.From].Size},
			{2 * r.Layers[s.From].Size, 4 * r.Layers[s.From].Size, 2 * r.Layers[s.From].Size},
			{2 * r.Layers[s.From].Size, 4 * r.Layers[s.From].Size, 2 * r.Layers[s.From].Size},
			{2 * r.Layers[s.From].Size, 2 * r.Layers[s.From].Size, 2 * r.Layers[s.From].Size},
		}
		for k, sg := range geo {
			if sg.InSize != want[k].in || sg.OutSize != want[k].out || sg.HSize != want[k].h {
				t.Errorf("synapse %d stage %d: %+v", i, k+1, sg)
			}
		}
		if geo[3].OutMaps != r.Layers[s.To].Maps || geo[0].InMaps != r.Layers[s.From].Maps {
			t.Errorf("synapse %d: maps %d→…→%d", i, geo[0].InMaps, geo[3].OutMaps)
		}
	}
	// The description survives JSON.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(r) {
		t.Error("a residual graph changed through JSON")
	}
}

func TestParseRefusesUnknownFields(t *testing.T) {
	for _, in := range []string{
		`{"layers": [{"maps": 3, "size": 8, "image": true}, {"maps": 2, "size": 4}], "synapses": [{"from": 1, "to": 0, "kernel": 3, "stride": 2, "strid": 1}]}`,
		`{"layers": [], "synapses": []}`,
		`{"layers": [{"maps": 3, "size": 8, "image": true}, {"maps": 2, "size": 4}], "synapses": [{"from": 1, "to": 0, "kernel": 3, "stride": 2}]} {}`,
		`not json`,
	} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrGraph) {
			t.Errorf("Parse(%.40q…) = %v, want ErrGraph", in, err)
		}
	}
	ok := `{"layers": [{"maps": 3, "size": 8, "image": true}, {"maps": 2, "size": 4}], "synapses": [{"from": 1, "to": 0, "kernel": 3, "stride": 2}]}`
	if _, err := Parse([]byte(ok)); err != nil {
		t.Errorf("a valid graph: %v", err)
	}
}

// FuzzParse: any input is a valid graph or an ErrGraph, never a panic, and
// a parsed graph survives another round through JSON.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"layers": [{"maps": 3, "size": 8, "image": true}, {"maps": 2, "size": 4}], "synapses": [{"from": 1, "to": 0, "kernel": 3, "stride": 2}]}`))
	f.Add([]byte(`{"layers": [{"maps": 3, "size": 8, "image": true}, {"maps": 2, "size": 4}], "synapses": [{"from": 1, "to": 0, "block": {"skip": true, "stages": [{"maps": 4, "kernel": 3, "stride": 2, "pool": 2, "relu": true}, {"maps": 3, "kernel": 3, "stride": 2}]}}]}`))
	f.Add([]byte(`{"layers": [{"maps": -1, "size": 1e9}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrGraph) {
				t.Fatalf("error %v is not an ErrGraph", err)
			}
			return
		}
		again, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Parse(again)
		if err != nil || !h.Equal(g) {
			t.Fatalf("a parsed graph does not survive JSON: %v", err)
		}
	})
}
