package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Image geometry shared by every data set in this package. An image is
// ImageSize float32 values in [0, 1], laid out channel-major (NCHW without
// the N): the Height×Width red plane, then green, then blue, each plane
// row-major.
const (
	Channels  = 3
	Height    = 32
	Width     = 32
	PlaneSize = Height * Width
	ImageSize = Channels * PlaneSize
)

// Stream constants that make the random draws of different purposes
// independent for one seed.
const (
	streamHoldOut = 0x9e3779b97f4a7c15
	streamCap     = 0xbf58476d1ce4e5b9
	streamColor   = 0x94d049bb133111eb
)

// Set is a labelled image set held in memory.
//
// Images holds Len() images of ImageSize float32 each, back to back:
// N×Channels×Height×Width row-major (NCHW), values in [0, 1]. Labels holds one
// class index per image. Classes, when not nil, names the classes: Classes[k]
// is the name of label k. Digits is nil except for Color-MNIST, where
// Labels holds the binary label and Digits the original MNIST digit (see the
// package documentation).
type Set struct {
	Name    string
	Images  []float32
	Labels  []int
	Digits  []int
	Classes []string
}

// Len returns the number of images in s.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns a view (not a copy) of image i: ImageSize values, R plane,
// then G, then B. Like a slice index, Image panics if i is not in [0, Len()).
func (s *Set) Image(i int) []float32 {
	return s.Images[i*ImageSize : (i+1)*ImageSize : (i+1)*ImageSize]
}

// Validate reports whether the fields of s are consistent: Images holds
// exactly Len() images, Digits is empty or as long as Labels, and every
// label is a valid index into Classes when Classes is set.
func (s *Set) Validate() error {
	if len(s.Images) != len(s.Labels)*ImageSize {
		return fmt.Errorf("data: set %q: %d floats for %d labels, want %d", s.Name, len(s.Images), len(s.Labels), len(s.Labels)*ImageSize)
	}
	if s.Digits != nil && len(s.Digits) != len(s.Labels) {
		return fmt.Errorf("data: set %q: %d digits for %d labels", s.Name, len(s.Digits), len(s.Labels))
	}
	if s.Classes != nil {
		for i, l := range s.Labels {
			if l < 0 || l >= len(s.Classes) {
				return fmt.Errorf("data: set %q: image %d: label %d not in [0, %d)", s.Name, i, l, len(s.Classes))
			}
		}
	}
	return nil
}

// Subset returns a new set holding copies of the images of s at the given
// indices, in the order given. Indices may repeat. It returns an error if an
// index is out of range.
func (s *Set) Subset(idx []int) (*Set, error) {
	n := s.Len()
	for _, i := range idx {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("data: subset of %q: index %d not in [0, %d)", s.Name, i, n)
		}
	}
	out := &Set{
		Name:    s.Name,
		Images:  make([]float32, 0, len(idx)*ImageSize),
		Labels:  make([]int, 0, len(idx)),
		Classes: s.Classes,
	}
	if s.Digits != nil {
		out.Digits = make([]int, 0, len(idx))
	}
	for _, i := range idx {
		out.Images = append(out.Images, s.Image(i)...)
		out.Labels = append(out.Labels, s.Labels[i])
		if s.Digits != nil {
			out.Digits = append(out.Digits, s.Digits[i])
		}
	}
	return out, nil
}

// Head returns a view of the first n images of s, sharing storage with s.
// n is clamped to [0, Len()].
func (s *Set) Head(n int) *Set {
	n = max(0, min(n, s.Len()))
	out := &Set{
		Name:    s.Name,
		Images:  s.Images[: n*ImageSize : n*ImageSize],
		Labels:  s.Labels[:n:n],
		Classes: s.Classes,
	}
	if s.Digits != nil {
		out.Digits = s.Digits[:n:n]
	}
	return out
}

// Split holds out n images of s chosen uniformly at random, deterministically
// from seed, and returns the remaining images (rest) and the held-out ones
// (heldOut). Both keep the original relative order of their images and hold
// copies, so s is left unchanged. n is clamped to [0, Len()].
//
// The choice depends only on Len(), n and seed, so the same seed gives the
// same validation images on every run and platform.
func (s *Set) Split(n int, seed int64) (rest, heldOut *Set) {
	mask := holdOutMask(s.Len(), n, seed, streamHoldOut)
	var keep, out []int
	for i, held := range mask {
		if held {
			out = append(out, i)
		} else {
			keep = append(keep, i)
		}
	}
	// The indices are in range by construction, so Subset cannot fail.
	rest, _ = s.Subset(keep)
	heldOut, _ = s.Subset(out)
	return rest, heldOut
}

// keepInOrder keeps the images of s at the ascending indices idx, in that
// order, compacting them to the front of s's storage, and returns a view of
// them; s must not be used afterwards. When fewer than half the images are
// kept they are copied to storage of their own, so that the rest of a large
// set can be collected. Load uses it so that a 50,000-image set is never
// held twice.
func (s *Set) keepInOrder(idx []int) *Set {
	for j, i := range idx {
		if i != j {
			copy(s.Images[j*ImageSize:(j+1)*ImageSize], s.Image(i))
			s.Labels[j] = s.Labels[i]
			if s.Digits != nil {
				s.Digits[j] = s.Digits[i]
			}
		}
	}
	out := s.Head(len(idx))
	if 2*len(idx) < s.Len() {
		out.Images = slices.Clone(out.Images)
		out.Labels = slices.Clone(out.Labels)
		if out.Digits != nil {
			out.Digits = slices.Clone(out.Digits)
		}
	}
	return out
}

// holdOutMask marks k of n indices, chosen uniformly at random from seed and
// stream by a partial Fisher–Yates shuffle. k is clamped to [0, n]. The draws
// use PCG directly (not math/rand's derived helpers) so that the choice is
// fixed by the algorithm here, whatever the Go release.
func holdOutMask(n, k int, seed int64, stream uint64) []bool {
	k = max(0, min(k, n))
	mask := make([]bool, n)
	if k == 0 {
		return mask
	}
	if k == n {
		for i := range mask {
			mask[i] = true
		}
		return mask
	}
	rng := rand.NewPCG(uint64(seed), stream)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + int(uniform(rng, uint64(n-i)))
		perm[i], perm[j] = perm[j], perm[i]
	}
	for _, i := range perm[:k] {
		mask[i] = true
	}
	return mask
}

// uniform returns a uniformly distributed integer in [0, n), n > 0, by
// rejection sampling on 64-bit outputs of rng.
func uniform(rng *rand.PCG, n uint64) uint64 {
	threshold := -n % n // 2^64 mod n
	for {
		if v := rng.Uint64(); v >= threshold {
			return v % n
		}
	}
}

// unitFloat returns a uniformly distributed float64 in [0, 1) from rng.
func unitFloat(rng *rand.PCG) float64 {
	return float64(rng.Uint64()>>11) / (1 << 53)
}

// sortedClasses returns the distinct names of m, sorted.
func sortedClasses(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
