package baselines

import (
	"bytes"
	"errors"
	"testing"

	"github.com/convngc/convngc/ngc/safetensors"
)

// FuzzLoad: any file is a baseline or an error wrapping ErrCheckpoint (or
// the safetensors package's), never a panic or an allocation the file
// cannot back.
func FuzzLoad(f *testing.F) {
	for _, mk := range []func() (Model, error){
		func() (Model, error) { return NewConvAE(AEConfig{Maps: 2, ImageSize: 16}) },
		func() (Model, error) { return NewNGC(NGCConfig{Units: []int{4, 8, 3 * 16 * 16}}) },
	} {
		m, err := mk()
		if err != nil {
			f.Fatal(err)
		}
		sf, err := m.Checkpoint()
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, sf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := safetensors.Read(bytes.NewReader(b), safetensors.WithMaxSize(1<<22))
		if err != nil {
			return
		}
		if _, err := FromCheckpoint(sf); err != nil && !errors.Is(err, ErrCheckpoint) {
			t.Fatalf("error %v is not an ErrCheckpoint", err)
		}
	})
}
