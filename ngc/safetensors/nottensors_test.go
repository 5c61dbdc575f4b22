package safetensors

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// TestTextIsNotSafetensors: a text file is named for what it is, not
// reported as an enormous header.
func TestTextIsNotSafetensors(t *testing.T) {
	for _, in := range []string{"hello world, this is text\n", `{"config": 1}` + strings.Repeat(" ", 40), "# a README\n\nwith lines\n"} {
		_, err := Read(bytes.NewReader([]byte(in)))
		if !errors.Is(err, ErrNotSafetensors) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("Read(%.12q…) = %v, want ErrNotSafetensors", in, err)
		}
	}
}

func TestCheckFinite(t *testing.T) {
	f := &File{Tensors: []Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1, 2}}, {Name: "b", Shape: []int{3}, Data: []float32{0, float32(math.Inf(-1)), 1}}}}
	err := f.CheckFinite()
	if err == nil || !strings.Contains(err.Error(), `"b"`) || !strings.Contains(err.Error(), "index 1") {
		t.Errorf("CheckFinite = %v, want one naming tensor b at index 1", err)
	}
	f.Tensors[1].Data[1] = 3
	if err := f.CheckFinite(); err != nil {
		t.Errorf("finite file: %v", err)
	}
}
