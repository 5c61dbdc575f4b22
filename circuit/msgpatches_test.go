package circuit

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/convngc/convngc/ngc/tensor"
)

func randomMaps(r *rand.Rand, n, size int) [][]float32 {
	x := make([][]float32, n)
	for i := range x {
		x[i] = make([]float32, size)
		for j := range x[i] {
			x[i][j] = r.Float32()
		}
	}
	return x
}

// TestMessagePatches: callers passing the very same message slices share
// one matrix, equal to Im2ColMaps; other slices (even with equal values)
// get their own; a matrix still held survives eviction and recycling, and
// its buffer is reused only after its last release.
func TestMessagePatches(t *testing.T) {
	g, err := tensor.SameGeom(8, 8, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := tensor.ConvSpec{Geom: g, Batch: 2, InC: 3, OutC: 1}
	r := rand.New(rand.NewPCG(1, 2))
	want := func(x [][]float32) []float32 {
		cols := make([]float32, s.ColsLen())
		tensor.Im2ColMaps(cols, x, s)
		return cols
	}
	c := newMessagePatches()
	x := randomMaps(r, 3, 2*8*8)
	a, relA := c.MessagePatches(x, s)
	b, relB := c.MessagePatches(slices.Clone(x), s) // same slices, new outer slice
	if &a[0] != &b[0] || !slices.Equal(a, want(x)) {
		t.Fatal("the same messages did not share one correct matrix")
	}
	y := [][]float32{slices.Clone(x[0]), x[1], x[2]} // equal values, another message
	d, relD := c.MessagePatches(y, s)
	if &d[0] == &a[0] || !slices.Equal(d, a) {
		t.Fatal("another message shared a matrix, or its patches differ")
	}
	relB()
	relB() // a second release is ignored
	// Evict x's matrix while a is still held: it must stay intact.
	for range recentPatches + 2 {
		z := randomMaps(r, 3, 2*8*8)
		m, rel := c.MessagePatches(z, s)
		if !slices.Equal(m, want(z)) {
			t.Fatal("wrong patches")
		}
		rel()
	}
	if !slices.Equal(a, want(x)) {
		t.Fatal("an evicted matrix still held was overwritten")
	}
	relA()
	relD()
	// Now x's buffer is free: a new matrix may reuse it, with new values.
	z := randomMaps(r, 3, 2*8*8)
	m, rel := c.MessagePatches(z, s)
	defer rel()
	if !slices.Equal(m, want(z)) {
		t.Fatal("a recycled buffer holds wrong patches")
	}
}

// TestMessagePatchesConcurrent: many goroutines asking for a few message
// sets at once all get correct matrices (run with -race).
func TestMessagePatchesConcurrent(t *testing.T) {
	g, err := tensor.SameGeom(8, 8, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := tensor.ConvSpec{Geom: g, Batch: 1, InC: 2, OutC: 1}
	r := rand.New(rand.NewPCG(3, 4))
	var sets [][][]float32
	var wants [][]float32
	for range 6 {
		x := randomMaps(r, 2, 64)
		w := make([]float32, s.ColsLen())
		tensor.Im2ColMaps(w, x, s)
		sets, wants = append(sets, x), append(wants, w)
	}
	c := newMessagePatches()
	var wg sync.WaitGroup
	errs := make(chan int, 8*200)
	for gi := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 200 {
				i := (gi + k) % len(sets)
				cols, rel := c.MessagePatches(sets[i], s)
				if !slices.Equal(cols, wants[i]) {
					errs <- i
				}
				rel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for i := range errs {
		t.Fatalf("set %d: wrong patches under concurrency", i)
	}
}
