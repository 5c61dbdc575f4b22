package safetensors

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRead checks that Read never panics, that every error it returns on an
// in-memory input is one of the package's content errors, and that whatever
// it decodes re-encodes and decodes to the same File.
func FuzzRead(f *testing.F) {
	f.Add(referenceFile)
	for _, file := range roundTripCases() {
		if len(file.Tensors) > 0 && len(file.Tensors[0].Data) > 1000 {
			continue // keep the seeds small
		}
		f.Add(encode(f, file))
	}
	for _, c := range corruptCases(f) {
		f.Add(c.data)
	}
	f.Add(rawFile(`{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"y":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}`, []byte{0x80, 0x3f, 0xc1, 0xff, 7}))

	f.Fuzz(func(t *testing.T, data []byte) {
		opts := []Option{WithMaxSize(1 << 24)}
		got, err := Read(bytes.NewReader(data), opts...)
		if _, herr := ReadHeader(bytes.NewReader(data), opts...); err == nil && herr != nil {
			t.Fatalf("Read accepts the file, ReadHeader says %v", herr)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrDType) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Read error %v wraps none of the sentinels", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, got); err != nil {
			t.Fatalf("Write of a decoded file: %v", err)
		}
		again, err := Read(&buf, opts...)
		if err != nil {
			t.Fatalf("Read of a re-encoded file: %v", err)
		}
		checkSame(t, again, got)
	})
}
