package data

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLoadSVHNMatReal(t *testing.T) {
	plain := dataPath(t, "svhn", "test_32x32.mat")
	zipped := dataPath(t, "svhn", "test_32x32_zlib.mat")
	a, err := LoadSVHNMat(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadSVHNMat(zipped)
	if err != nil {
		t.Fatal(err)
	}
	checkRange(t, a)
	if a.Len() != 7 || a.Name != "svhn/test_32x32" {
		t.Fatalf("%s: %d images, want 7", a.Name, a.Len())
	}
	if want := []int{5, 1, 8, 9, 4, 2, 9}; !slices.Equal(a.Labels, want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if !slices.Equal(a.Images, b.Images) || !slices.Equal(a.Labels, b.Labels) {
		t.Error("the uncompressed and the zlib file decode differently")
	}
	// In the uncompressed file X's bytes start at offset 0xC0 (tag of X at
	// 0x80, then flags, dimensions, the name "X" in the small format and
	// the data tag), column-major: byte 0xC0+r+32c is X(r, c, red, 1).
	raw, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	img := a.Image(0)
	for _, p := range []struct{ r, c, ch int }{{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {5, 17, 1}, {31, 30, 2}} {
		want := float32(raw[0xC0+p.r+32*p.c+1024*p.ch]) / 255
		if got := img[p.ch*PlaneSize+p.r*Width+p.c]; got != want {
			t.Errorf("pixel (%d,%d) plane %d = %v, want %v", p.r, p.c, p.ch, got, want)
		}
	}
	last := a.Image(6)
	if want := float32(raw[0xC0+6*ImageSize+1024*2+31+32*31]) / 255; last[ImageSize-1] != want {
		t.Errorf("last pixel of image 6 = %v, want %v", last[ImageSize-1], want)
	}
}

// svhnFile writes an SVHN-style MAT-file: n images whose pixel (r, c) of
// plane ch in image k is (r + 2c + 3ch + 5k) mod 256, labels y stored as
// double.
func svhnFile(t *testing.T, o byteOrder, compress bool, xdims []int, y []float64) []byte {
	t.Helper()
	n := 1
	for _, d := range xdims {
		n *= d
	}
	x := make([]byte, n)
	for k := range n / ImageSize {
		for ch := range 3 {
			for c := range 32 {
				for r := range 32 {
					x[k*ImageSize+ch*1024+c*32+r] = byte(r + 2*c + 3*ch + 5*k)
				}
			}
		}
	}
	return matFile(t, o, compress,
		matMatrix(o, matVarSpec{name: "X", class: MATUint8, dims: xdims, typ: miUINT8, data: x}),
		matMatrix(o, matVarSpec{name: "y", class: MATDouble, dims: []int{len(y), 1}, typ: miDOUBLE, data: f64Bytes(o, y...)}))
}

func TestLoadSVHNMatWritten(t *testing.T) {
	le := binaryLE()
	for _, compress := range []bool{false, true} {
		p := writeFile(t, t.TempDir(), "train_32x32.mat", svhnFile(t, le, compress, []int{32, 32, 3, 3}, []float64{10, 1, 9}))
		s, err := LoadSVHNMat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Labels, []int{0, 1, 9}) || s.Name != "svhn/train_32x32" {
			t.Fatalf("labels %v name %q, want [0 1 9] (10 is digit 0)", s.Labels, s.Name)
		}
		for k := range 3 {
			for _, p := range []struct{ r, c, ch int }{{0, 0, 0}, {3, 7, 1}, {31, 0, 2}, {0, 31, 2}} {
				want := float32(byte(p.r+2*p.c+3*p.ch+5*k)) / 255
				if got := s.Image(k)[p.ch*PlaneSize+p.r*Width+p.c]; got != want {
					t.Fatalf("image %d (%d,%d,%d) = %v, want %v", k, p.r, p.c, p.ch, got, want)
				}
			}
		}
	}
	// A single image may be stored without the trailing dimension.
	p := writeFile(t, t.TempDir(), "one.mat", svhnFile(t, le, false, []int{32, 32, 3}, []float64{4}))
	if s, err := LoadSVHNMat(p); err != nil || s.Len() != 1 || s.Labels[0] != 4 {
		t.Fatalf("single image: %v", err)
	}
}

func TestLoadSVHNMatErrors(t *testing.T) {
	le := binaryLE()
	tests := []struct {
		name string
		file []byte
		msg  string
	}{
		{"label 11", svhnFile(t, le, false, []int{32, 32, 3, 2}, []float64{1, 11}), "image 1"},
		{"label 2.5", svhnFile(t, le, false, []int{32, 32, 3, 2}, []float64{2.5, 1}), "image 0"},
		{"count mismatch", svhnFile(t, le, false, []int{32, 32, 3, 2}, []float64{1}), "variable y"},
		{"wrong size", svhnFile(t, le, false, []int{28, 28, 3, 1}, []float64{1}), "[28 28 3 1]"},
		{"no y", matFile(t, le, false, matMatrix(le, matVarSpec{name: "X", class: MATUint8, dims: []int{32, 32, 3}, typ: miUINT8, data: make([]byte, 3072)})), "X and y"},
		{"truncated", svhnFile(t, le, false, []int{32, 32, 3, 2}, []float64{1, 2})[:5000], "left"},
	}
	for _, tc := range tests {
		p := writeFile(t, t.TempDir(), "bad.mat", tc.file)
		_, err := LoadSVHNMat(p)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p+":") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrFormat naming %s and %q", tc.name, err, p, tc.msg)
		}
	}
}
