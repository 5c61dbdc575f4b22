package data

import (
	"bytes"
	"context"
	"slices"
	"testing"
)

// planeSum returns the sum of plane ch of image i.
func planeSum(s *Set, i, ch int) float64 {
	var sum float64
	for _, v := range s.Image(i)[ch*PlaneSize : (ch+1)*PlaneSize] {
		sum += float64(v)
	}
	return sum
}

// isRed reports whether image i of a Color-MNIST set is red, failing the
// test unless exactly one of R and G is lit and B is dark.
func isRed(t *testing.T, s *Set, i int) bool {
	t.Helper()
	r, g, b := planeSum(s, i, 0), planeSum(s, i, 1), planeSum(s, i, 2)
	if b != 0 || (r == 0) == (g == 0) {
		t.Fatalf("image %d: plane sums R %v G %v B %v: want exactly one of R, G", i, r, g, b)
	}
	return r > 0
}

// agreementRate returns the fraction of images whose colour agrees with
// their binary label.
func agreementRate(digits []int, red []bool) float64 {
	agree := 0
	for i, d := range digits {
		if red[i] == (binaryLabel(d) == LabelLow) {
			agree++
		}
	}
	return float64(agree) / float64(len(digits))
}

func TestLoadColorMNISTSmall(t *testing.T) {
	dir := t.TempDir()
	var images [][]byte
	var labels []byte
	for i := range 40 {
		images = append(images, bytes.Repeat([]byte{255}, 784))
		labels = append(labels, byte(i%10))
	}
	writeMNIST(t, dir, "train", images, labels, true)
	s, err := LoadColorMNIST(dir, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkRange(t, s)
	if s.Len() != 40 || s.Name != "color-mnist/train" {
		t.Fatalf("%s: %d images", s.Name, s.Len())
	}
	red := colorMNISTRed(s.Digits, true, 1)
	for i := range s.Len() {
		want := LabelHigh
		if labels[i] < 5 {
			want = LabelLow
		}
		if s.Labels[i] != want || s.Digits[i] != int(labels[i]) {
			t.Fatalf("image %d: label %d digit %d, want %d and %d", i, s.Labels[i], s.Digits[i], want, labels[i])
		}
		ch := 1
		if isRed(t, s, i) {
			ch = 0
		}
		if (ch == 0) != red[i] {
			t.Fatalf("image %d: colour differs from the drawn one", i)
		}
		// A full-white digit fills its colour plane with ones.
		for _, v := range s.Image(i)[ch*PlaneSize : (ch+1)*PlaneSize] {
			if v != 1 {
				t.Fatalf("image %d: lit plane holds %v, want 1", i, v)
			}
		}
	}
}

// TestColorMNISTTrainColours checks the colours of the 60,000 real training
// digits: 90% agree with the label, and the seed fixes them. (The colours,
// not the 737 MB of images: LoadColorMNIST draws them with the same
// function, which the other tests check.)
func TestColorMNISTTrainColours(t *testing.T) {
	_, digits, err := LoadMNIST(mnistDir(t), true)
	if err != nil {
		t.Fatal(err)
	}
	red := colorMNISTRed(digits, true, 7)
	// 60,000 draws: the standard deviation of the rate is 0.0012.
	if rate := agreementRate(digits, red); rate < 0.895 || rate > 0.905 {
		t.Errorf("colour agrees with the label for %.4f of training digits, want 0.9", rate)
	}
	if !slices.Equal(colorMNISTRed(digits, true, 7), red) {
		t.Error("same seed, different colours")
	}
	if slices.Equal(colorMNISTRed(digits, true, 8), red) {
		t.Error("different seeds, same colours")
	}
	if slices.Equal(colorMNISTRed(digits, false, 7), red) {
		t.Error("train and test share their colour draws")
	}
}

func TestColorMNISTTest(t *testing.T) {
	s, err := ColorMNIST(context.Background(), false, 7)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 10000 || s.Name != "color-mnist/test" {
		t.Fatalf("%s: %d images, want 10000", s.Name, s.Len())
	}
	checkRange(t, s)
	red := make([]bool, s.Len())
	for i := range red {
		red[i] = isRed(t, s, i)
		if s.Labels[i] != binaryLabel(s.Digits[i]) {
			t.Fatalf("image %d: label %d for digit %d", i, s.Labels[i], s.Digits[i])
		}
	}
	// 10,000 draws: the standard deviation of the rate is 0.003.
	if rate := agreementRate(s.Digits, red); rate < 0.09 || rate > 0.11 {
		t.Errorf("colour agrees with the label for %.4f of test digits, want 0.1", rate)
	}
	// Pixel (16, 16) samples the 28×28 digit at (13.9375, 13.9375).
	digits, _, err := LoadMNIST(mnistDir(t), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 9999} {
		d := func(y, x int) float32 { return float32(digits[i][y*28+x]) / 255 }
		top := d(13, 13) + (d(13, 14)-d(13, 13))*0.9375
		bot := d(14, 13) + (d(14, 14)-d(14, 13))*0.9375
		want := top + (bot-top)*0.9375
		ch := 1
		if red[i] {
			ch = 0
		}
		if got := s.Image(i)[ch*PlaneSize+16*Width+16]; !near(got, want, 1e-5) {
			t.Errorf("image %d: pixel (16,16) = %v, want %v", i, got, want)
		}
	}
}

// TestLoadColorMNISTSelectsBeforeConverting: Load converts only the digits it
// keeps, and they are exactly the images that splitting and capping the
// whole converted set gives (same pixels, labels, digits and colours).
func TestLoadColorMNISTSelectsBeforeConverting(t *testing.T) {
	dir := mnistDir(t)
	full := map[bool]*Set{}
	for _, train := range []bool{true, false} {
		s, err := LoadColorMNIST(dir, train, 3)
		if err != nil {
			t.Fatal(err)
		}
		full[train] = s
	}
	for _, tc := range []struct {
		split Split
		max   int
	}{{Train, 300}, {Validation, 200}, {Test, 100}, {Validation, 0}} {
		opts := Options{Dataset: ColorMNISTName, Path: dir, Split: tc.split, MaxImages: tc.max, Seed: 3}
		got, err := Load(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		src := full[tc.split != Test]
		idx, err := selection(src.Len(), src.Name, opts, tc.split != Test)
		if err != nil {
			t.Fatal(err)
		}
		want, err := src.Subset(idx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Len() != want.Len() || !slices.Equal(got.Images, want.Images) ||
			!slices.Equal(got.Labels, want.Labels) || !slices.Equal(got.Digits, want.Digits) {
			t.Errorf("%v, max %d: Load kept %d images that differ from the selected %d of the converted set",
				tc.split, tc.max, got.Len(), want.Len())
		}
	}
}
