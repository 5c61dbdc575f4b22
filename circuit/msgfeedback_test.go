package circuit

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/convngc/convngc/neuron"
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

// msgFeedbackCase is a group of state maps enrolled with a messageFeedback
// and a reference: each map's feedback computed alone by ConvMaps.
type msgFeedbackCase struct {
	s       tensor.ConvSpec
	kernels [][]float32
	share   []func(x [][]float32, dst []float32)
}

func newMsgFeedbackCase(t *testing.T, r *rand.Rand, c *messageFeedback, maps int, s tensor.ConvSpec) *msgFeedbackCase {
	t.Helper()
	fc := &msgFeedbackCase{s: s}
	for i := range maps {
		k := randomMaps(r, 1, s.KernelLen())[0]
		f := c.ShareMessageFeedback(neuron.Ref{Role: neuron.StateRole, Layer: 1, Index: i}, 0, s, k)
		if f == nil {
			t.Fatal("a map was refused")
		}
		fc.kernels, fc.share = append(fc.kernels, k), append(fc.share, f)
	}
	return fc
}

func (fc *msgFeedbackCase) want(i int, x [][]float32) []float32 {
	y := make([]float32, fc.s.OutLen())
	tensor.ConvMaps([][]float32{y}, x, fc.kernels[i], make([]float32, fc.s.ColsLen()), fc.s)
	return y
}

func closeTo(a, b []float32, tol float64) bool {
	return len(a) == len(b) && maxDiff(a, b) <= tol
}

// TestMessageFeedback: every map of a group gets its own feedback, for the
// very same messages (computed once for all) and for other slices with
// equal values (computed again); after eviction and buffer recycling the
// results are still right; a map enrolling after the first product is
// refused (it computes alone).
func TestMessageFeedback(t *testing.T) {
	g, err := tensor.SameGeom(8, 8, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := tensor.ConvSpec{Geom: g, Batch: 18, InC: 3, OutC: 1, Flip: true}
	r := rand.New(rand.NewPCG(1, 2))
	c := newMessageFeedback()
	fc := newMsgFeedbackCase(t, r, c, 7, s)
	x := randomMaps(r, 3, s.Batch*8*8)
	dst := make([]float32, s.OutLen())
	for i := range fc.share {
		fc.share[i](slices.Clone(x), dst) // same slices, new outer slice
		if !closeTo(dst, fc.want(i, x), 1e-5) {
			t.Fatalf("map %d: wrong feedback", i)
		}
	}
	if n := len(c.groups[feedbackKey{upper: 1, lower: 0, spec: s}].recent); n != 1 {
		t.Errorf("one set of messages made %d results", n)
	}
	y := [][]float32{slices.Clone(x[0]), x[1], x[2]} // equal values, another message
	for round := range recentResults + 3 {
		z := randomMaps(r, 3, s.Batch*8*8)
		for i := range fc.share {
			for _, in := range [][][]float32{y, z} {
				fc.share[i](in, dst)
				if !closeTo(dst, fc.want(i, in), 1e-5) {
					t.Fatalf("round %d map %d: wrong feedback", round, i)
				}
			}
		}
	}
	if f := c.ShareMessageFeedback(neuron.Ref{Role: neuron.StateRole, Layer: 1, Index: 9}, 0, s, fc.kernels[0]); f != nil {
		t.Error("a map enrolled after the first product")
	}
}

// TestMessageFeedbackConcurrent: maps of a group asking for a few message
// sets at once, from their own goroutines, all get their own feedback
// (run with -race).
func TestMessageFeedbackConcurrent(t *testing.T) {
	g, err := tensor.SameGeom(8, 8, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := tensor.ConvSpec{Geom: g, Batch: 3, InC: 2, OutC: 1}
	r := rand.New(rand.NewPCG(3, 4))
	c := newMessageFeedback()
	fc := newMsgFeedbackCase(t, r, c, 6, s)
	var sets [][][]float32
	for range 6 {
		sets = append(sets, randomMaps(r, 2, s.Batch*64))
	}
	wants := make([][][]float32, len(fc.share))
	for i := range wants {
		for _, x := range sets {
			wants[i] = append(wants[i], fc.want(i, x))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan int, len(fc.share)*200)
	for i, f := range fc.share {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]float32, s.OutLen())
			for k := range 200 {
				j := (i + k) % len(sets)
				f(sets[j], dst)
				if !closeTo(dst, wants[i][j], 1e-5) {
					errs <- i
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for i := range errs {
		t.Fatalf("map %d: wrong feedback under concurrency", i)
	}
}
