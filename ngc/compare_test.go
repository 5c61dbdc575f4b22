package ngc

import (
	"errors"
	"testing"
)

func TestParseTask(t *testing.T) {
	for s, want := range map[string]Task{"recon": Reconstruct, "reconstruct": Reconstruct, "reconstruction": Reconstruct,
		"denoise": Denoise, "denoising": Denoise} {
		if got, err := ParseTask(s); err != nil || got != want {
			t.Errorf("ParseTask(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseTask("inpaint"); err == nil {
		t.Error("ParseTask(inpaint): no error")
	}
}

// TestCompareParams: a model against itself differs by nothing, against a
// trained copy in every synapse; different networks are refused.
func TestCompareParams(t *testing.T) {
	cfg := Config{Channels: []int{2, 3, 3}, ImageSize: 8, Steps: 2, Batch: 2, Seed: 1, Untied: true}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.WithSteps(2)
	if err != nil {
		t.Fatal(err)
	}
	same, err := CompareParams(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(same) != 2 {
		t.Fatalf("%d synapses compared, want 2", len(same))
	}
	for _, d := range same {
		if d.W != 0 || d.Bias != 0 || d.E == nil || *d.E != 0 || !(d.NormW > 0) {
			t.Errorf("a model against its copy: %+v", d)
		}
	}
	ws, err := b.NewWorkspace(2)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*3*8*8)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	if err := b.TrainBatch(ws, x, nil, nil); err != nil {
		t.Fatal(err)
	}
	trained, err := CompareParams(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range trained {
		if !(d.W > 0) || d.E == nil || !(*d.E > 0) {
			t.Errorf("layer %d: training changed nothing: %+v", d.Layer, d)
		}
	}
	cfg.Channels, cfg.Untied = []int{2, 4, 3}, false
	other, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompareParams(a, other); !errors.Is(err, ErrConfig) {
		t.Errorf("different networks: %v", err)
	}
}

// TestWithResidual: a chain's stride-2 synapses become blocks with the
// pathway asked for; a graph or an unknown pathway is refused.
func TestWithResidual(t *testing.T) {
	c, err := (Config{Channels: []int{2, 3, 3}, ImageSize: 8}).WithResidual(4, "exact")
	if err != nil {
		t.Fatal(err)
	}
	if c.Channels != nil || c.Graph == nil || len(c.Graph.Synapses) != 2 {
		t.Fatalf("config: %+v", c)
	}
	for _, s := range c.Graph.Synapses {
		if s.Block == nil || s.Block.Pathway != "exact" {
			t.Errorf("synapse %d→%d: %+v", s.From, s.To, s.Block)
		}
	}
	if _, err := New(c); err != nil {
		t.Errorf("a residual model: %v", err)
	}
	if _, err := c.WithResidual(4, "lra"); !errors.Is(err, ErrConfig) {
		t.Errorf("residual of a graph: %v", err)
	}
	if _, err := (Config{Channels: []int{2, 3}}).WithResidual(4, "shortcut"); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown pathway: %v", err)
	}
}
