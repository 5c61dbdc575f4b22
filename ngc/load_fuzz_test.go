package ngc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/convngc/convngc/ngc/graph"
	"github.com/convngc/convngc/ngc/safetensors"
)

// FuzzLoad: any file is a model or an error (ErrCheckpoint, or the
// safetensors package's), never a panic and never an allocation the file
// cannot back; a loaded model runs.
func FuzzLoad(f *testing.F) {
	add := func(m *Model, edit func(*safetensors.File)) {
		sf, err := m.Checkpoint()
		if err != nil {
			f.Fatal(err)
		}
		if edit != nil {
			edit(sf)
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, sf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	small, err := New(Config{Channels: []int{2, 3}, ImageSize: 4, Steps: 2, Batch: 2})
	if err != nil {
		f.Fatal(err)
	}
	add(small, nil)
	add(small, func(sf *safetensors.File) { sf.Metadata["config"] = `{"channels": [100000, 100000, 3]}` })
	add(small, func(sf *safetensors.File) {
		sf.Metadata["config"] = `{"channels": [2, 3], "image_size": 4, "untied": true}`
	})
	add(small, func(sf *safetensors.File) { sf.Tensors[0].Shape, sf.Tensors[0].Data = []int{1}, []float32{1} })
	g, _ := graph.Chain([]int{2, 3}, 8, 3, 2, false)
	res, _ := graph.Residual(g, 2)
	blocks, err := New(Config{Graph: res, Steps: 2, Batch: 2})
	if err != nil {
		f.Fatal(err)
	}
	add(blocks, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := safetensors.Read(bytes.NewReader(b), safetensors.WithMaxSize(1<<20))
		if err != nil {
			return
		}
		m, err := FromCheckpoint(sf)
		if err != nil {
			if !errors.Is(err, ErrCheckpoint) && !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v is neither ErrCheckpoint nor ErrConfig", err)
			}
			return
		}
		img := m.Graph().Layers[0]
		if n := img.Maps * img.Size * img.Size; n > 1<<16 || m.Config().Steps > 100 {
			return // too large an image or too long a window to run here
		}
		ws, err := m.NewWorkspace(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Infer(ws, make([]float32, img.Maps*img.Size*img.Size), Reconstruct, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
}
