package data

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// DigitClasses returns the class names of the digit data sets: "0" … "9".
func DigitClasses() []string {
	return []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
}

// LoadSVHNMat loads an SVHN cropped-digits file ("Format 2": train_32x32.mat,
// test_32x32.mat, extra_32x32.mat), a Level 5 MAT-file (uncompressed or
// compressed, see ReadMAT) with two variables:
//
//   - X, (32, 32, 3, N) uint8 (or any numeric class with byte values), in
//     MATLAB's column-major order: X(r, c, ch, n) is the byte at offset
//     r + 32c + 1024ch + 3072n. A single image may be stored as (32, 32, 3).
//   - y, (N, 1) or (1, N), the digits 1–9 with 10 standing for digit 0
//     (0 is accepted for 0 as well).
//
// Labels are the digits 0–9 and Classes is DigitClasses(). Errors name the
// file and what is wrong.
func LoadSVHNMat(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	vars, err := readMAT(f, fi.Size(), MaxMATBytes)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	s, err := svhnFromVars(vars)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	s.Name = "svhn/" + strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return s, nil
}

// svhnFromVars converts the X and y variables of an SVHN file to a Set.
func svhnFromVars(vars []*MATVar) (*Set, error) {
	var xv, yv *MATVar
	for _, v := range vars {
		switch v.Name {
		case "X":
			xv = v
		case "y":
			yv = v
		}
	}
	if xv == nil || yv == nil {
		return nil, fmt.Errorf("%w: want variables X and y", ErrFormat)
	}
	d := xv.Dims
	n := 1
	switch {
	case len(d) == 4 && d[0] == Height && d[1] == Width && d[2] == Channels:
		n = d[3]
	case len(d) == 3 && d[0] == Height && d[1] == Width && d[2] == Channels:
	default:
		return nil, fmt.Errorf("variable X: %w: dimensions %v, want [32 32 3 N]", ErrFormat, d)
	}
	if len(yv.Dims) != 2 || yv.Len() != n || (yv.Dims[0] != 1 && yv.Dims[1] != 1) {
		return nil, fmt.Errorf("variable y: %w: dimensions %v, want [%d 1]", ErrFormat, yv.Dims, n)
	}
	x, err := xv.Uint8()
	if err != nil {
		return nil, fmt.Errorf("variable X: %w", err)
	}
	y, err := yv.Float64()
	if err != nil {
		return nil, fmt.Errorf("variable y: %w", err)
	}
	s := &Set{
		Images:  make([]float32, n*ImageSize),
		Labels:  make([]int, n),
		Classes: DigitClasses(),
	}
	for i, l := range y {
		if !(l >= 0 && l <= 10) || l != math.Trunc(l) {
			return nil, fmt.Errorf("variable y: image %d: %w: label %v not in 1..10", i, ErrFormat, l)
		}
		s.Labels[i] = int(l) % 10
	}
	for i := range n {
		img := s.Image(i)
		for ch := range Channels {
			src := x[i*ImageSize+ch*PlaneSize:]
			dst := img[ch*PlaneSize : (ch+1)*PlaneSize]
			for c := range Width {
				col := src[c*Height : (c+1)*Height]
				for r, b := range col {
					dst[r*Width+c] = float32(b) / 255
				}
			}
		}
	}
	return s, nil
}
