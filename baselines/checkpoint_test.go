package baselines

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/safetensors"
)

// trainer is what the round-trip test needs of a model.
type trainer interface {
	Model
	TrainBatch(x []float32) (float64, error)
}

// snapshot copies every tensor of a model's parameter set.
func snapshot(ps *paramSet) map[string][]float32 {
	out := map[string][]float32{}
	for i, p := range ps.params {
		out[p.Name] = append([]float32(nil), p.Value...)
		out["adam.m."+p.Name] = append([]float32(nil), ps.opt[i].M...)
		out["adam.v."+p.Name] = append([]float32(nil), ps.opt[i].V...)
	}
	for _, p := range ps.state {
		out[p.Name] = append([]float32(nil), p.Value...)
	}
	return out
}

func paramsOf(m Model) *paramSet {
	switch m := m.(type) {
	case *Autoencoder:
		return &m.ps
	case *NGC:
		return &m.ps
	}
	return nil
}

// sameBits reports whether two snapshots hold bit-identical tensors.
func sameBits(t *testing.T, what string, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d tensors, want %d", what, len(b), len(a))
	}
	for name, va := range a {
		if !equal(va, b[name]) {
			t.Errorf("%s: tensor %s differs", what, name)
		}
	}
}

// TestSaveLoadRoundTrip saves trained models, loads them back and checks
// that everything is bit-exact: the tensors, the outputs, and the next
// training step (Adam's state, the update count and the noise streams).
func TestSaveLoadRoundTrip(t *testing.T) {
	x := smoothImages(4, 3, 16, 1)
	x32 := smoothImages(4, 3, 32, 1)
	ae, _ := NewConvAE(AEConfig{ImageSize: 16, Maps: 4, LearningRate: 1e-3, Seed: 1})
	dae, _ := NewConvDAE(AEConfig{ImageSize: 16, Maps: 4, LearningRate: 1e-3, NoClip: true, Seed: 2})
	fc, _ := NewNGC(NGCConfig{Units: []int{5, 7, 3 * 32 * 32}, Steps: 5, PCN: true, TopStd: ngc.Float(0.1), Seed: 3})
	for _, tc := range []struct {
		m trainer
		x []float32
	}{{ae, x}, {dae, x}, {fc, x32}} {
		m := tc.m
		for i := 0; i < 2; i++ {
			if _, err := m.TrainBatch(tc.x); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(t.TempDir(), m.Name()+".safetensors")
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		loaded, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		l, ok := loaded.(trainer)
		if !ok || l.Name() != m.Name() || l.Params() != m.Params() {
			t.Fatalf("%s: loaded %T %q with %d parameters", m.Name(), loaded, loaded.Name(), loaded.Params())
		}
		sameBits(t, m.Name()+" after load", snapshot(paramsOf(m)), snapshot(paramsOf(l)))
		if paramsOf(l).updates != 2 {
			t.Errorf("%s: %d updates after load, want 2", m.Name(), paramsOf(l).updates)
		}
		// The same outputs.
		want, got := make([]float32, len(tc.x)), make([]float32, len(tc.x))
		switch a := m.(type) {
		case *Autoencoder:
			if err := a.Reconstruct(want, tc.x); err != nil {
				t.Fatal(err)
			}
			if err := l.(*Autoencoder).Reconstruct(got, tc.x); err != nil {
				t.Fatal(err)
			}
		case *NGC:
			if err := a.Infer(want, tc.x, ngc.Denoise, rand.New(rand.NewPCG(1, 2)), nil); err != nil {
				t.Fatal(err)
			}
			if err := l.(*NGC).Infer(got, tc.x, ngc.Denoise, rand.New(rand.NewPCG(1, 2)), nil); err != nil {
				t.Fatal(err)
			}
		}
		if !equal(want, got) {
			t.Errorf("%s: outputs differ after load", m.Name())
		}
		// The same next training step.
		lm, err := m.TrainBatch(tc.x)
		if err != nil {
			t.Fatal(err)
		}
		ll, err := l.TrainBatch(tc.x)
		if err != nil {
			t.Fatal(err)
		}
		if lm != ll {
			t.Errorf("%s: next loss %v, after load %v", m.Name(), lm, ll)
		}
		sameBits(t, m.Name()+" one step after load", snapshot(paramsOf(m)), snapshot(paramsOf(l)))
	}
	if c := dae.Config(); !c.NoClip || c.Activation != "selu" {
		t.Errorf("Conv-DAE config %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	m, _ := NewConvAE(AEConfig{ImageSize: 16, Maps: 2})
	good := filepath.Join(dir, "good.safetensors")
	if err := m.Save(good); err != nil {
		t.Fatal(err)
	}
	base, err := safetensors.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	clone := func() *safetensors.File {
		f := &safetensors.File{Metadata: map[string]string{}}
		for k, v := range base.Metadata {
			f.Metadata[k] = v
		}
		f.Tensors = append(f.Tensors, base.Tensors...)
		return f
	}
	for name, edit := range map[string]func(f *safetensors.File){
		"format":      func(f *safetensors.File) { f.Metadata[metaFormat] = "convngc/1" },
		"kind":        func(f *safetensors.File) { f.Metadata[metaModel] = "vae" },
		"config json": func(f *safetensors.File) { f.Metadata[metaConfig] = "{" },
		"bad config":  func(f *safetensors.File) { f.Metadata[metaConfig] = `{"image_size": 20}` },
		"huge config": func(f *safetensors.File) { f.Metadata[metaConfig] = `{"image_size": 16, "maps": 4000}` },
		"updates":     func(f *safetensors.File) { f.Metadata[metaUpdates] = "-1" },
		"missing":     func(f *safetensors.File) { f.Tensors = f.Tensors[1:] },
		"extra": func(f *safetensors.File) {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: "junk", Shape: []int{1}, Data: []float32{0}})
		},
		"shape": func(f *safetensors.File) {
			t0 := f.Tensors[0]
			f.Tensors[0] = safetensors.Tensor{Name: t0.Name, Shape: []int{len(t0.Data)}, Data: t0.Data}
		},
		"ngc as ae": func(f *safetensors.File) { f.Metadata[metaModel] = kindNGC },
	} {
		f := clone()
		edit(f)
		path := filepath.Join(dir, "bad.safetensors")
		if err := safetensors.WriteFile(path, f); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: Load = %v, want ErrCheckpoint", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "absent.safetensors")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}
