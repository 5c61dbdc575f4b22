package data

import (
	"errors"
	"slices"
	"testing"
)

func TestSetImageAndHead(t *testing.T) {
	s := synthSet(5, 3)
	if s.Len() != 5 {
		t.Fatalf("Len = %d, want 5", s.Len())
	}
	img := s.Image(3)
	if len(img) != ImageSize || img[0] != 3.0/5 || img[ImageSize-1] != 3.0/5 {
		t.Fatalf("Image(3): len %d, first %v, last %v", len(img), img[0], img[ImageSize-1])
	}
	img[0] = 0.5 // a view: writes show in the set
	if s.Images[3*ImageSize] != 0.5 {
		t.Fatal("Image does not return a view")
	}
	if cap(img) != ImageSize {
		t.Fatalf("Image capacity %d lets appends overwrite the next image", cap(img))
	}
	for _, tc := range []struct{ n, want int }{{-1, 0}, {0, 0}, {2, 2}, {5, 5}, {9, 5}} {
		h := s.Head(tc.n)
		if h.Len() != tc.want || len(h.Images) != tc.want*ImageSize {
			t.Errorf("Head(%d): %d images, %d floats; want %d", tc.n, h.Len(), len(h.Images), tc.want)
		}
	}
}

func TestSetSubset(t *testing.T) {
	s := synthSet(6, 4)
	s.Digits = []int{10, 11, 12, 13, 14, 15}
	sub, err := s.Subset([]int{4, 1, 4})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sub.Labels, []int{0, 1, 0}) || !slices.Equal(sub.Digits, []int{14, 11, 14}) {
		t.Fatalf("labels %v digits %v", sub.Labels, sub.Digits)
	}
	if sub.Image(1)[7] != 1.0/6 {
		t.Fatalf("image 1 = %v, want %v", sub.Image(1)[7], 1.0/6)
	}
	sub.Image(0)[0] = -1
	if s.Image(4)[0] == -1 {
		t.Fatal("Subset shares storage with its source")
	}
	for _, bad := range [][]int{{-1}, {6}, {0, 100}} {
		if _, err := s.Subset(bad); err == nil {
			t.Errorf("Subset(%v): no error", bad)
		}
	}
}

func TestSetValidate(t *testing.T) {
	tests := []struct {
		name string
		s    *Set
		ok   bool
	}{
		{"good", synthSet(3, 2), true},
		{"short images", &Set{Images: make([]float32, ImageSize), Labels: []int{0, 1}}, false},
		{"digits length", &Set{Images: make([]float32, ImageSize), Labels: []int{0}, Digits: []int{1, 2}}, false},
		{"label out of classes", &Set{Images: make([]float32, ImageSize), Labels: []int{2}, Classes: []string{"a", "b"}}, false},
	}
	for _, tc := range tests {
		if err := tc.s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v", tc.name, err)
		}
	}
}

func TestSplit(t *testing.T) {
	const n, k = 200, 37
	s := synthSet(n, 10)
	rest, held := s.Split(k, 42)
	if rest.Len() != n-k || held.Len() != k {
		t.Fatalf("split sizes %d + %d, want %d + %d", rest.Len(), held.Len(), n-k, k)
	}
	// Every image lands in exactly one part, in increasing original order.
	seen := make(map[float32]int)
	for _, part := range []*Set{rest, held} {
		prev := float32(-1)
		for i := range part.Len() {
			v := part.Image(i)[0]
			if v <= prev {
				t.Fatalf("order not kept: %v after %v", v, prev)
			}
			prev = v
			seen[v]++
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct images after split, want %d", len(seen), n)
	}
	// Deterministic for a seed, different for another.
	_, again := s.Split(k, 42)
	if !slices.Equal(again.Images, held.Images) {
		t.Fatal("same seed, different hold-out")
	}
	_, other := s.Split(k, 43)
	if slices.Equal(other.Images, held.Images) {
		t.Fatal("different seeds, same hold-out")
	}
	// The source is untouched.
	if !slices.Equal(s.Images, synthSet(n, 10).Images) {
		t.Fatal("Split modified its source")
	}
	// Load's selection and in-place compaction pick the very same images.
	for _, tc := range []struct {
		split Split
		want  *Set
	}{{Train, rest}, {Validation, held}} {
		idx, err := selection(n, "synth", Options{Split: tc.split, Validation: k, Seed: 42}, true)
		if err != nil {
			t.Fatal(err)
		}
		got := synthSet(n, 10).keepInOrder(idx)
		if !slices.Equal(got.Images, tc.want.Images) || !slices.Equal(got.Labels, tc.want.Labels) {
			t.Fatalf("%v: selection and keepInOrder differ from Split", tc.split)
		}
	}
	// Clamping.
	for _, tc := range []struct{ k, rest, held int }{{-3, n, 0}, {0, n, 0}, {n, 0, n}, {n + 5, 0, n}} {
		r, h := s.Split(tc.k, 1)
		if r.Len() != tc.rest || h.Len() != tc.held {
			t.Errorf("Split(%d): %d + %d, want %d + %d", tc.k, r.Len(), h.Len(), tc.rest, tc.held)
		}
	}
}

// TestSplitFixed pins the hold-out of a seed, so that a change in the
// drawing code (which would silently change every validation set) fails.
func TestSplitFixed(t *testing.T) {
	mask := holdOutMask(20, 5, 7, streamHoldOut)
	var got []int
	for i, m := range mask {
		if m {
			got = append(got, i)
		}
	}
	want := []int{2, 11, 16, 18, 19}
	if !slices.Equal(got, want) {
		t.Fatalf("hold-out of seed 7 = %v, want %v", got, want)
	}
}

func TestSplitUniform(t *testing.T) {
	// Each of 10 indices is held out about k/n of the time over many seeds.
	const n, k, trials = 10, 3, 20000
	var counts [n]int
	for seed := range int64(trials) {
		for i, m := range holdOutMask(n, k, seed, streamHoldOut) {
			if m {
				counts[i]++
			}
		}
	}
	want := float64(trials) * k / n
	for i, c := range counts {
		if d := float64(c) - want; d > 0.05*want || d < -0.05*want {
			t.Errorf("index %d held out %d times, want about %.0f", i, c, want)
		}
	}
}

func TestSelectionCap(t *testing.T) {
	idx, err := selection(50, "synth", Options{Split: Test, MaxImages: 10, Seed: 3}, false)
	if err != nil {
		t.Fatal(err)
	}
	c := synthSet(50, 5).keepInOrder(idx)
	if c.Len() != 10 {
		t.Fatalf("cap: %d images", c.Len())
	}
	prev := float32(-1)
	for i := range c.Len() {
		v := c.Image(i)[0]
		if v <= prev {
			t.Fatal("cap does not keep the order")
		}
		prev = v
		if c.Labels[i] != int(v*50+0.5)%5 {
			t.Fatalf("image %d: label %d does not travel with its image %v", i, c.Labels[i], v)
		}
	}
	if idx, _ := selection(4, "synth", Options{Split: Test, MaxImages: 10, Seed: 3}, false); len(idx) != 4 {
		t.Fatalf("cap above Len: %d images", len(idx))
	}
	if _, err := selection(10, "synth", Options{Split: Train, Validation: 10}, true); !errors.Is(err, ErrNoImages) {
		t.Fatalf("holding out every image: %v", err)
	}
}
