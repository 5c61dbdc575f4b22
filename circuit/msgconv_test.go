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

// msgConvCase is a group of populations enrolled with a messageConvs and
// a reference: each one's convolution computed alone by ConvMaps (state
// maps' feedback) or ConvTMaps (error maps' predictions).
type msgConvCase struct {
	s       tensor.ConvSpec
	role    neuron.Role
	kernels [][]float32
	share   []neuron.SharedConv
}

func newMsgConvCase(t *testing.T, r *rand.Rand, c *messageConvs, role neuron.Role, members int, s tensor.ConvSpec) *msgConvCase {
	t.Helper()
	fc := &msgConvCase{s: s, role: role}
	for i := range members {
		k := randomMaps(r, 1, s.KernelLen())[0]
		h := c.ShareMessageConv(neuron.Ref{Role: role, Layer: 1, Index: i}, 0, s, k)
		if h == nil {
			t.Fatal("a population was refused")
		}
		fc.kernels, fc.share = append(fc.kernels, k), append(fc.share, h)
	}
	return fc
}

// inputs returns random maps of the side the group reads.
func (fc *msgConvCase) inputs(r *rand.Rand) [][]float32 {
	if fc.role == neuron.StateRole {
		return randomMaps(r, fc.s.InC, fc.s.Batch*fc.s.InH*fc.s.InW)
	}
	return randomMaps(r, fc.s.OutC, fc.s.Batch*fc.s.OutH*fc.s.OutW)
}

func (fc *msgConvCase) outLen() int {
	if fc.role == neuron.StateRole {
		return fc.s.OutLen()
	}
	return fc.s.InLen()
}

func (fc *msgConvCase) want(i int, x [][]float32) []float32 {
	y := make([]float32, fc.outLen())
	cols := make([]float32, fc.s.ColsLen())
	if fc.role == neuron.StateRole {
		tensor.ConvMaps([][]float32{y}, x, fc.kernels[i], cols, fc.s)
	} else {
		tensor.ConvTMaps([][]float32{y}, x, fc.kernels[i], cols, fc.s)
	}
	return y
}

func (fc *msgConvCase) check(t *testing.T, what string, x [][]float32) {
	t.Helper()
	dst := make([]float32, fc.outLen())
	for i, h := range fc.share {
		h.Conv(x, dst)
		if d := maxDiff(dst, fc.want(i, x)); d > 1e-5 {
			t.Fatalf("%v %s, member %d: output differs by %g", fc.role, what, i, d)
		}
	}
}

// TestMessageConvs: every member of a group of state maps (feedback) or
// of error maps (predictions) gets its own output, for the very same
// messages (one product for all) and for other slices with equal values
// (another product); after eviction and buffer recycling, and after a
// member changes its kernel through Update, the outputs are still right;
// a population enrolling after the first product is refused.
func TestMessageConvs(t *testing.T) {
	g, err := tensor.SameGeom(8, 8, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []neuron.Role{neuron.StateRole, neuron.ErrorRole} {
		s := tensor.ConvSpec{Geom: g, Batch: 18, InC: 3, OutC: 1, Flip: true}
		if role == neuron.ErrorRole {
			s.InC, s.OutC = 1, 4
		}
		r := rand.New(rand.NewPCG(1, 2))
		c := newMessageConvs()
		fc := newMsgConvCase(t, r, c, role, 7, s)
		x := fc.inputs(r)
		fc.check(t, "first messages", x)
		fc.check(t, "the same messages", slices.Clone(x)) // new outer slice
		key := msgKey{role: role, layer: 1, other: 0, spec: s}
		if n := len(c.groups[key].recent); n != 1 {
			t.Errorf("%v: one set of messages made %d results", role, n)
		}
		y := append([][]float32{slices.Clone(x[0])}, x[1:]...) // equal values, another message
		for round := range recentResults + 3 {
			fc.check(t, "equal values", y)
			fc.check(t, "new messages", fc.inputs(r))
			if round == 2 {
				fc.share[3].Update(func() {
					for i := range fc.kernels[3] {
						fc.kernels[3][i] = -fc.kernels[3][i]
					}
				})
				fc.check(t, "messages seen before a kernel changed", x)
			}
		}
		if h := c.ShareMessageConv(neuron.Ref{Role: role, Layer: 1, Index: 9}, 0, s, fc.kernels[0]); h != nil {
			t.Errorf("%v: a population enrolled after the first product", role)
		}
	}
}

// TestMessageConvsConcurrent: members of a group asking for a few message
// sets at once, from their own goroutines, all get their own output (run
// with -race).
func TestMessageConvsConcurrent(t *testing.T) {
	g, err := tensor.SameGeom(8, 8, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := tensor.ConvSpec{Geom: g, Batch: 3, InC: 2, OutC: 1}
	r := rand.New(rand.NewPCG(3, 4))
	c := newMessageConvs()
	fc := newMsgConvCase(t, r, c, neuron.StateRole, 6, s)
	var sets [][][]float32
	for range 6 {
		sets = append(sets, fc.inputs(r))
	}
	wants := make([][][]float32, len(fc.share))
	for i := range wants {
		for _, x := range sets {
			wants[i] = append(wants[i], fc.want(i, x))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan int, len(fc.share)*200)
	for i, h := range fc.share {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]float32, s.OutLen())
			for k := range 200 {
				j := (i + k) % len(sets)
				h.Conv(sets[j], dst)
				if maxDiff(dst, wants[i][j]) > 1e-5 {
					errs <- i
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for i := range errs {
		t.Fatalf("member %d: wrong output under concurrency", i)
	}
}
