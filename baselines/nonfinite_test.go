package baselines

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc/safetensors"
)

// TestLoadRefusesNonFinite: a baseline checkpoint holding an infinity is
// refused with an error naming the tensor.
func TestLoadRefusesNonFinite(t *testing.T) {
	m, err := NewConvAE(AEConfig{Maps: 4})
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	name := f.Tensors[0].Name
	d := append([]float32(nil), f.Tensors[0].Data...)
	d[1] = float32(math.Inf(1))
	f.Tensors[0].Data = d
	path := filepath.Join(t.TempDir(), "inf.safetensors")
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), name) {
		t.Errorf("an infinite weight: %v", err)
	}
}
