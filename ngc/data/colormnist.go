package data

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// Color-MNIST colour/label agreement: the probability that a digit's colour
// is the one that agrees with its binary label, in the training and in the
// test set. The correlation is reversed at test time.
const (
	ColorTrainAgreement = 0.9
	ColorTestAgreement  = 0.1
)

// Color-MNIST binary labels (Set.Labels); the digit itself is in Set.Digits.
const (
	LabelHigh = 0 // digits 5–9; their agreeing colour is green
	LabelLow  = 1 // digits 0–4; their agreeing colour is red
)

// ColorMNIST builds the Color-MNIST training (train true, 60,000 images) or
// test set (10,000 images) from the MNIST files of the GoMNIST module (see
// MNISTDir). See LoadColorMNIST for the construction.
func ColorMNIST(ctx context.Context, train bool, seed int64) (*Set, error) {
	dir, err := MNISTDir(ctx)
	if err != nil {
		return nil, err
	}
	return LoadColorMNIST(dir, train, seed)
}

// LoadColorMNIST builds Color-MNIST from the MNIST IDX files in dir (see
// LoadMNIST), in the style of the Colored MNIST of Invariant Risk
// Minimization (Arjovsky et al., 2019):
//
//   - each 28×28 digit is scaled to [0, 1] (byte/255) and resized to 32×32 by
//     bilinear interpolation with half-pixel centres (align_corners=false);
//   - its binary label is LabelLow (1) for digits 0–4 and LabelHigh (0) for
//     digits 5–9; the label is not noised;
//   - it is coloured red or green: with probability ColorTrainAgreement (train)
//     or ColorTestAgreement (test) it takes the colour that agrees with its
//     label (red for LabelLow, green for LabelHigh), otherwise the other one;
//   - a red digit has its intensity in the R plane, a green one in the G
//     plane; the two other planes are zero.
//
// The colours are drawn in file order from a PCG generator seeded by seed,
// with different streams for train and test, so a seed fixes the data set.
// Set.Labels holds the binary labels, Set.Digits the digits 0–9.
func LoadColorMNIST(dir string, train bool, seed int64) (*Set, error) {
	return loadColorMNIST(dir, train, seed, nil)
}

// loadColorMNIST is LoadColorMNIST keeping only the digits whose ascending
// indices sel returns (sel nil: all). The colours are drawn for every digit
// of the file first, so a digit's colour does not depend on the selection.
func loadColorMNIST(dir string, train bool, seed int64, sel func(n int, name string) ([]int, error)) (*Set, error) {
	digits, labels, err := LoadMNIST(dir, train)
	if err != nil {
		return nil, err
	}
	name := "color-mnist/test"
	if train {
		name = "color-mnist/train"
	}
	red := colorMNISTRed(labels, train, seed)
	var idx []int
	if sel != nil {
		if idx, err = sel(len(digits), name); err != nil {
			return nil, err
		}
	} else {
		idx = make([]int, len(digits))
		for i := range idx {
			idx[i] = i
		}
	}
	n := len(idx)
	s := &Set{
		Name:    name,
		Images:  make([]float32, n*ImageSize),
		Labels:  make([]int, n),
		Digits:  make([]int, n),
		Classes: []string{"digits 5-9", "digits 0-4"},
	}
	rs := newBilinear(Height, Width, MNISTHeight, MNISTWidth)
	src := make([]float32, MNISTHeight*MNISTWidth)
	for j, i := range idx {
		s.Digits[j] = labels[i]
		s.Labels[j] = binaryLabel(labels[i])
		for k, b := range digits[i] {
			src[k] = float32(b) / 255
		}
		plane := 1 // green
		if red[i] {
			plane = 0
		}
		rs.resize(s.Image(j)[plane*PlaneSize:(plane+1)*PlaneSize], src)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("data: color-mnist from %s: %w", dir, err)
	}
	return s, nil
}

// binaryLabel returns the Color-MNIST label of a digit.
func binaryLabel(digit int) int {
	if digit < 5 {
		return LabelLow
	}
	return LabelHigh
}

// colorMNISTRed draws the colours of Color-MNIST digits in order: red[i]
// tells whether digit i is red.
func colorMNISTRed(digits []int, train bool, seed int64) []bool {
	agreement, stream := ColorTestAgreement, uint64(streamColor)
	if train {
		agreement, stream = ColorTrainAgreement, streamColor+1
	}
	rng := rand.NewPCG(uint64(seed), stream)
	red := make([]bool, len(digits))
	for i, d := range digits {
		agree := unitFloat(rng) < agreement
		red[i] = (binaryLabel(d) == LabelLow) == agree
	}
	return red
}
