package ngc

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc/safetensors"
)

// TestLoadRefusesNonFinite: a checkpoint holding a NaN (in a kernel or an
// optimiser moment) is refused with an error naming the tensor.
func TestLoadRefusesNonFinite(t *testing.T) {
	m := tiny(t, nil)
	for _, name := range []string{"W.2", "adam.v.b.1"} {
		f, err := m.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Tensors {
			if f.Tensors[i].Name == name {
				d := append([]float32(nil), f.Tensors[i].Data...)
				d[0] = float32(math.NaN())
				f.Tensors[i].Data = d
			}
		}
		path := filepath.Join(t.TempDir(), "nan.safetensors")
		if err := safetensors.WriteFile(path, f); err != nil {
			t.Fatal(err)
		}
		_, err = Load(path)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), name) {
			t.Errorf("NaN in %s: %v", name, err)
		}
	}
}
