package ngc

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckpointRoundTrip(t *testing.T) {
	for _, untied := range []bool{false, true} {
		m := tiny(t, func(c *Config) { c.Untied = untied; c.TopStd = Float(0) })
		ws := workspace(t, m, 4)
		x := smoothImages(4, 8, 3)
		for i := 0; i < 3; i++ {
			if err := m.TrainBatch(ws, x, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if back.cfg.String() != m.cfg.String() {
			t.Fatalf("config changed:\n%v\n%v", back.cfg, m.cfg)
		}
		for l := 1; l <= m.cfg.Layers(); l++ {
			a, b := m.Synapses(l), back.Synapses(l)
			same(t, "W", a.W, b.W)
			same(t, "b", a.Bias, b.Bias)
			if untied {
				same(t, "E", a.E, b.E)
			} else if b.E != nil {
				t.Fatal("tied model loaded with E")
			}
		}
		// Training resumes exactly: one more batch on both gives the same weights.
		ws2 := workspace(t, back, 4)
		if err := m.TrainBatch(ws, x, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := back.TrainBatch(ws2, x, nil, nil); err != nil {
			t.Fatal(err)
		}
		same(t, "W after resume", m.Synapses(1).W, back.Synapses(1).W)
	}
}

func same(t *testing.T, what string, a, b []float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d values", what, len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s[%d]: %v vs %v", what, i, a[i], b[i])
		}
	}
}

func TestCheckpointRefusesDamage(t *testing.T) {
	m := tiny(t, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mangle func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-7] }},
		{"tampered weight", func(b []byte) []byte { b[len(b)-3] ^= 0x40; return b }},
		{"tampered header", func(b []byte) []byte {
			for i := 8; i < len(b); i++ {
				if b[i] == '[' {
					b[i] = '{'
					break
				}
			}
			return b
		}},
		{"empty", func([]byte) []byte { return nil }},
	}
	for _, tc := range tests {
		bad := tc.mangle(append([]byte(nil), good...))
		p := filepath.Join(dir, tc.name+".safetensors")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s checkpoint was accepted", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestCheckpointRefusesWrongShapes(t *testing.T) {
	m := tiny(t, nil)
	f, err := m.safetensors()
	if err != nil {
		t.Fatal(err)
	}
	f.Tensors[0].Data = f.Tensors[0].Data[:len(f.Tensors[0].Data)-1]
	f.Tensors[0].Shape = []int{len(f.Tensors[0].Data)}
	if _, err := fromSafetensors(f); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("short kernel tensor: %v, want ErrCheckpoint", err)
	}
	f, _ = m.safetensors()
	f.Metadata[metaConfig] = `{"channels":[4,0,3]}`
	if _, err := fromSafetensors(f); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("bad config: %v, want ErrCheckpoint", err)
	}
	f, _ = m.safetensors()
	f.Tensors = f.Tensors[1:]
	if _, err := fromSafetensors(f); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("missing tensor: %v, want ErrCheckpoint", err)
	}
}
