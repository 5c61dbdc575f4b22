package safetensors_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"

	"github.com/convngc/convngc/ngc/safetensors"
)

func Example() {
	f := &safetensors.File{
		Metadata: map[string]string{"format": "pt"},
		Tensors: []safetensors.Tensor{
			{Name: "W.1", Shape: []int{2, 1, 3, 3}, Data: make([]float32, 18)},
			{Name: "b.1", Shape: []int{1}, Data: []float32{0.25}},
		},
	}
	var buf bytes.Buffer // or safetensors.WriteFile("model.safetensors", f)
	if err := safetensors.Write(&buf, f); err != nil {
		log.Fatal(err)
	}

	g, err := safetensors.Read(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g.Metadata)
	for _, t := range g.Tensors {
		fmt.Println(t.Name, t.Shape, len(t.Data))
	}
	b, _ := g.Get("b.1")
	fmt.Println(b.Data)
	// Output:
	// map[format:pt]
	// W.1 [2 1 3 3] 18
	// b.1 [1] 1
	// [0.25]
}

func ExampleRead_corrupt() {
	var buf bytes.Buffer
	f := &safetensors.File{Tensors: []safetensors.Tensor{{Name: "x", Shape: []int{2}, Data: []float32{1, 2}}}}
	if err := safetensors.Write(&buf, f); err != nil {
		log.Fatal(err)
	}
	data := buf.Bytes()

	_, err := safetensors.Read(bytes.NewReader(data[:len(data)-1]))
	fmt.Println(errors.Is(err, safetensors.ErrTruncated))

	data[len(data)-1] ^= 0x01 // one bit of the last value
	_, err = safetensors.Read(bytes.NewReader(data))
	fmt.Println(errors.Is(err, safetensors.ErrChecksum), errors.Is(err, safetensors.ErrCorrupt))
	// Output:
	// true
	// true true
}

func ExampleReadHeader() {
	// A file written by another tool: an F16 tensor and no checksum.
	header := `{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`
	var buf bytes.Buffer
	buf.Write([]byte{byte(len(header)), 0, 0, 0, 0, 0, 0, 0})
	buf.WriteString(header)
	buf.Write([]byte{0x00, 0x3c, 0x00, 0xc0}) // 1 and -2 in binary16

	h, err := safetensors.ReadHeader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range h.Tensors {
		fmt.Println(t.Name, t.DType, t.Shape, t.Begin, t.End)
	}
	f, err := safetensors.Read(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Tensors[0].Data)
	// Output:
	// h F16 [2] 0 4
	// [1 -2]
}
