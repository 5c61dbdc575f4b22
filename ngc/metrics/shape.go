package metrics

import (
	"errors"
	"fmt"
	"math"
)

// ErrShape is returned (wrapped) when a Shape has a non-positive dimension,
// when its element count overflows int, or when a slice does not hold exactly
// the number of values the Shape describes.
var ErrShape = errors.New("metrics: shape mismatch")

// ErrTooSmall is returned (wrapped) by the Gaussian-window SSIM, and so by
// Evaluate, PerImage and Accumulator.Add, when an image is smaller than the
// 11×11 window in either dimension.
var ErrTooSmall = errors.New("metrics: image smaller than the SSIM window")

// Shape describes a batch of N images with C channels of H rows and W
// columns, stored row-major in NCHW order: the value of image n, channel c,
// row h, column w is at index ((n·C+c)·H+h)·W+w.
type Shape struct {
	N, C, H, W int
}

// Len returns N·C·H·W, the number of values a batch of this shape holds. It
// does not check for overflow; functions of this package validate the shape
// before using it.
func (s Shape) Len() int { return s.N * s.C * s.H * s.W }

// String formats s as "NxCxHxW".
func (s Shape) String() string { return fmt.Sprintf("%dx%dx%dx%d", s.N, s.C, s.H, s.W) }

// validate checks that every dimension of s is positive and that N·C·H·W
// fits in an int.
func (s Shape) validate() error {
	if s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("shape %v has a non-positive dimension: %w", s, ErrShape)
	}
	n := 1
	for _, d := range [...]int{s.N, s.C, s.H, s.W} {
		if n > math.MaxInt/d {
			return fmt.Errorf("shape %v has too many elements: %w", s, ErrShape)
		}
		n *= d
	}
	return nil
}

// check validates s and the lengths of x and xhat against it.
func check(x, xhat []float32, s Shape) error {
	if err := s.validate(); err != nil {
		return err
	}
	if n := s.Len(); len(x) != n || len(xhat) != n {
		return fmt.Errorf("len(x) = %d, len(xhat) = %d, want %d for shape %v: %w",
			len(x), len(xhat), n, s, ErrShape)
	}
	return nil
}
