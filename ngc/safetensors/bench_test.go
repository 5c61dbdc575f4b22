package safetensors

import (
	"bytes"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// benchFile is a 10 MiB file: ten tensors of 1 MiB each.
func benchFile() *File {
	r := rand.New(rand.NewPCG(3, 4))
	f := &File{Metadata: map[string]string{"format": "pt"}}
	for i := range 10 {
		f.Tensors = append(f.Tensors, Tensor{
			Name:  "t." + string(rune('0'+i)),
			Shape: []int{256, 1024},
			Data:  randomData(r, 256*1024),
		})
	}
	return f
}

func BenchmarkWrite10MB(b *testing.B) {
	f := benchFile()
	b.SetBytes(int64(len(encode(b, f))))
	for b.Loop() {
		if err := Write(io.Discard, f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead10MB(b *testing.B) {
	data := encode(b, benchFile())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteFileReadFile10MB(b *testing.B) {
	f := benchFile()
	path := filepath.Join(b.TempDir(), "bench.safetensors")
	b.SetBytes(2 * int64(len(encode(b, f))))
	for b.Loop() {
		if err := WriteFile(path, f); err != nil {
			b.Fatal(err)
		}
		if _, err := ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
}
