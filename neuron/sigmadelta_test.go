package neuron

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc/tensor"
)

// walk returns steps maps of n values that move like settling states: big
// changes first, then smaller ones, with awkward values mixed in.
func walk(seed uint64, n, steps int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 9))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	var out [][]float32
	for t := 0; t < steps; t++ {
		scale := math.Pow(0.7, float64(t))
		for i := range x {
			switch r.IntN(40) {
			case 0:
				x[i] = float32(r.NormFloat64() * 1e-12) // tiny after big: not expressible as a change
			case 1:
				x[i] = float32(math.Copysign(0, -1))
			case 2:
				// unchanged
			default:
				x[i] += float32(r.NormFloat64() * scale)
			}
		}
		out = append(out, append([]float32(nil), x...))
	}
	return out
}

func TestSigmaDeltaExactAtZero(t *testing.T) {
	const n = 300
	s := newSender(Encoding{Scheme: SigmaDelta}, n, 3)
	in := newDeltaIn(n)
	for step, x := range walk(1, n, 12) {
		d := s.encode(x, 0)
		if st, _, err := in.offer(d, step, true); err != nil || st != deltaApplied {
			t.Fatalf("step %d: %v %v", step, st, err)
		}
		for u := range x {
			if math.Float32bits(in.r[u]) != math.Float32bits(x[u]) {
				t.Fatalf("step %d unit %d: receiver holds %g (%#x), sender sent %g (%#x)", step, u, in.r[u], math.Float32bits(in.r[u]), x[u], math.Float32bits(x[u]))
			}
		}
		in.rebased()
	}
}

func TestSigmaDeltaWithinThreshold(t *testing.T) {
	const n = 400
	for _, rel := range []bool{false, true} {
		enc := Encoding{Scheme: SigmaDelta, Threshold: 0.05, Relative: rel}
		s := newSender(enc, n, 4)
		in := newDeltaIn(n)
		sparse := 0
		for step, x := range walk(2, n, 15) {
			d := s.encode(x, 0)
			if d.Sparse {
				sparse++
			}
			if _, _, err := in.offer(d, step, true); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < 4; b++ {
				th := 0.05
				if rel {
					th *= rms(x[b*100 : (b+1)*100])
				}
				for u := b * 100; u < (b+1)*100; u++ {
					if diff := math.Abs(float64(in.r[u] - x[u])); diff > th*1.0001 && !math.IsNaN(diff) {
						t.Fatalf("relative %v step %d unit %d: receiver %g, sender %g (θ %g)", rel, step, u, in.r[u], x[u], th)
					}
					if in.r[u] != s.sent[u] && !(math.IsNaN(float64(in.r[u])) && math.IsNaN(float64(s.sent[u]))) {
						t.Fatalf("unit %d: receiver %g, sender's copy %g", u, in.r[u], s.sent[u])
					}
				}
			}
			in.rebased()
		}
		if sparse < 5 {
			t.Errorf("relative %v: only %d of 15 frames sparse", rel, sparse)
		}
	}
}

func TestSigmaDeltaFrames(t *testing.T) {
	s := newSender(Encoding{Scheme: SigmaDelta, Threshold: 0.5}, 8, 1)
	x := []float32{1, 0, 0, 0, 0, 0, 0, 2}
	d := s.encode(x, 3)
	if !d.Reset || !d.Sparse || d.Seq != 0 || len(d.Value) != 2 {
		t.Fatalf("first frame %+v: want a sparse reset listing 2 units", d)
	}
	if d2 := s.encode(x, 3); d2.Reset || !d2.Sparse || len(d2.Value) != 0 || d2.Seq != 1 {
		t.Fatalf("unchanged map: %+v, want an empty sparse frame", d2)
	}
	if d3 := s.encode([]float32{9, 9, 9, 9, 9, 9, 9, 9}, 3); d3.Sparse || len(d3.Value) != 8 {
		t.Fatalf("every unit moved: %+v, want a full frame", d3)
	}
	if d4 := s.encode(x, 4); !d4.Reset {
		t.Fatalf("a new window: %+v, want a reset", d4)
	}
	if got, want := (&Delta{Sparse: true, Index: []uint32{0, 200 | AbsBit}, Value: []float32{1, 2}}).Bytes(), 8+1+2; got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
}

func TestDeltaInOrder(t *testing.T) {
	s := newSender(Encoding{Scheme: SigmaDelta}, 6, 1)
	var frames []*Delta
	for k, x := range walk(4, 6, 5) {
		frames = append(frames, s.encode(x, k/3))
	}
	want := walk(4, 6, 5)[4]

	strict := newDeltaIn(6)
	if _, _, err := strict.offer(frames[0], 0, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := strict.offer(frames[2], 2, true); err == nil || !strings.Contains(err.Error(), "frame 1 was lost") {
		t.Fatalf("gap in strict mode: %v", err)
	}
	if st, _, err := strict.offer(frames[0], 0, true); err != nil || st != deltaDuplicate {
		t.Fatalf("duplicate: %v %v", st, err)
	}

	// Out of order, not strict: held until the gap fills; the reset of
	// window 1 (frame 3) takes over whatever came before.
	loose := newDeltaIn(6)
	for _, k := range []int{1, 0} {
		st, latest, err := loose.offer(frames[k], k, false)
		if err != nil {
			t.Fatal(err)
		}
		if k == 1 && st != deltaHeld {
			t.Fatalf("frame 1 before the reset: %v", st)
		}
		if k == 0 && (st != deltaApplied || latest != 1) {
			t.Fatalf("frame 0 releases frame 1: %v latest %d", st, latest)
		}
	}
	for _, k := range []int{4, 3} {
		if _, _, err := loose.offer(frames[k], k, false); err != nil {
			t.Fatal(err)
		}
	}
	for u := range want {
		if math.Float32bits(loose.r[u]) != math.Float32bits(want[u]) {
			t.Fatalf("unit %d: %g, want %g", u, loose.r[u], want[u])
		}
	}
	bad := &Delta{N: 5, Sparse: true}
	if _, _, err := loose.offer(bad, 9, false); err == nil {
		t.Fatal("a frame of another map size was accepted")
	}
	lost := newDeltaIn(6)
	lost.offer(frames[0], 0, false)
	var err error
	for k := 0; k <= maxHeld && err == nil; k++ {
		_, _, err = lost.offer(&Delta{N: 6, Seq: uint32(2 + k), Sparse: true}, k, false)
	}
	if err == nil || !strings.Contains(err.Error(), "frame 1 never arrived") {
		t.Fatalf("a lost frame: %v", err)
	}
}

// TestIncrementalMatchesFull: sums updated by the changes alone agree with
// the whole convolution of the reconstructed maps to float32 round-off,
// over many sparse steps, for the prediction (transposed convolution) and
// the feedback (strided convolution).
func TestIncrementalMatchesFull(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		in, k, stride, batch, maps int
		flip                       bool
	}{
		{16, 3, 2, 3, 5, true}, {8, 3, 2, 2, 4, false}, {4, 3, 2, 1, 3, true}, {9, 5, 1, 2, 2, true}, {2, 3, 2, 4, 2, true},
	} {
		g, err := tensor.SameGeom(tc.in, tc.in, tc.k, tc.stride)
		if err != nil {
			t.Fatal(err)
		}
		kk := tc.k * tc.k
		randv := func(n int, scale float64) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(r.NormFloat64() * scale)
			}
			return v
		}
		// Prediction: maps small-side maps onto one large-side map.
		sp := tensor.ConvSpec{Geom: g, Batch: tc.batch, InC: 1, OutC: tc.maps, Flip: tc.flip}
		w := randv(sp.KernelLen(), 0.3)
		small := tc.batch * g.OutH * g.OutW
		ins := make([]*deltaIn, tc.maps)
		senders := make([]*sender, tc.maps)
		xs := make([][]float32, tc.maps)
		for i := range ins {
			ins[i], senders[i], xs[i] = newDeltaIn(small), newSender(Encoding{Scheme: SigmaDelta, Threshold: 0.02}, small, 1), randv(small, 1)
		}
		acc := make([]float32, tc.batch*g.InH*g.InW)
		full := make([]float32, len(acc))
		cols := make([]float32, sp.ColsLen())
		for step := 0; step < 40; step++ {
			rs := make([][]float32, tc.maps)
			var ops int64
			for i := range ins {
				for u := range xs[i] {
					if r.IntN(4) == 0 {
						xs[i][u] += float32(r.NormFloat64() * 0.1)
					}
				}
				if _, _, err := ins[i].offer(senders[i].encode(xs[i], 0), step, true); err != nil {
					t.Fatal(err)
				}
				rs[i] = ins[i].r
			}
			if step == 0 {
				tensor.ConvTMaps([][]float32{acc}, rs, w, cols, sp)
				for i := range ins {
					ins[i].rebased()
				}
				continue
			}
			for i, in := range ins {
				ops += addConvT(acc, w[i*kk:(i+1)*kk], in.pend, in.dirty, transposedTaps(sp))
				in.rebased()
			}
			if ops > sp.MACs() {
				t.Fatalf("%+v step %d: %d operations, dense %d", tc, step, ops, sp.MACs())
			}
			tensor.ConvTMaps([][]float32{full}, rs, w, cols, sp)
			closeTo(t, "prediction", acc, full, 1e-4)
		}

		// Feedback: large-side maps onto one small-side map.
		sf := tensor.ConvSpec{Geom: g, Batch: tc.batch, InC: tc.maps, OutC: 1, Flip: tc.flip}
		e := randv(sf.KernelLen(), 0.3)
		large := tc.batch * g.InH * g.InW
		fins := make([]*deltaIn, tc.maps)
		fx := make([][]float32, tc.maps)
		for j := range fins {
			fins[j], fx[j] = newDeltaIn(large), randv(large, 1)
			fins[j].offer(&Delta{N: large, Reset: true, Value: append([]float32(nil), fx[j]...)}, 0, true)
			fins[j].rebased()
		}
		fb := make([]float32, small)
		fbFull := make([]float32, small)
		fcols := make([]float32, sf.ColsLen())
		tensor.ConvMaps([][]float32{fb}, fx, e, fcols, sf)
		for step := 1; step < 40; step++ {
			for j, in := range fins {
				var idx []uint32
				var val []float32
				for u := 0; u < large; u++ {
					if r.IntN(6) == 0 {
						idx, val = append(idx, uint32(u)), append(val, float32(r.NormFloat64()*0.1))
					}
				}
				if _, _, err := in.offer(&Delta{N: large, Seq: uint32(step), Sparse: true, Index: idx, Value: val}, step, true); err != nil {
					t.Fatal(err)
				}
				addConv(fb, e[j*kk:(j+1)*kk], in.pend, in.dirty, convTaps(sf))
				in.rebased()
				fx[j] = in.r
			}
			tensor.ConvMaps([][]float32{fbFull}, fx, e, fcols, sf)
			closeTo(t, "feedback", fb, fbFull, 1e-4)
		}
	}
}

// TestIncrementalCountsTaps: a change of every unit costs the taps that
// land inside the map: all of a dense convolution's multiply-accumulates
// but those that read the padding.
func TestIncrementalCountsTaps(t *testing.T) {
	g, _ := tensor.SameGeom(8, 8, 3, 2)
	s := tensor.ConvSpec{Geom: g, Batch: 2, InC: 1, OutC: 1}
	all := func(n int) ([]float32, []int32) {
		d, idx := make([]float32, n), make([]int32, n)
		for i := range d {
			d[i], idx[i] = 1, int32(i)
		}
		return d, idx
	}
	k := make([]float32, 9)
	d, idx := all(2 * 4 * 4)
	// Transposed: of the 9·16 taps per image, those of the last row and
	// column of the small map fall beyond the large one (padding after).
	if got, want := addConvT(make([]float32, 2*64), k, d, idx, transposedTaps(s)), int64(2*(9*16-2*3*4+1)); got != want {
		t.Errorf("transposed: %d operations, want %d", got, want)
	}
	d, idx = all(2 * 8 * 8)
	if got, want := addConv(make([]float32, 2*16), k, d, idx, convTaps(s)), int64(2*(9*16-2*3*4+1)); got != want {
		t.Errorf("strided: %d operations, want %d", got, want)
	}
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*max(scale, 1) {
			t.Fatalf("%s[%d] = %g, recomputed %g (difference %g, scale %g)", what, i, got[i], want[i], d, scale)
		}
	}
}

func TestEncodingValidate(t *testing.T) {
	good := []Encoding{{}, {Scheme: SigmaDelta}, {Scheme: SigmaDelta, Threshold: 0.1, Relative: true, Rebase: 5}}
	for _, e := range good {
		if err := e.Validate(); err != nil {
			t.Errorf("%v: %v", e, err)
		}
	}
	bad := []Encoding{{Scheme: 7}, {Scheme: SigmaDelta, Threshold: -1}, {Scheme: SigmaDelta, Threshold: math.NaN()},
		{Scheme: SigmaDelta, Rebase: -1}, {Threshold: 0.1}}
	for _, e := range bad {
		if err := e.Validate(); !errors.Is(err, ErrEncoding) {
			t.Errorf("%+v: %v, want ErrEncoding", e, err)
		}
	}
	if _, err := ParseScheme("morse"); !errors.Is(err, ErrEncoding) {
		t.Errorf("ParseScheme(morse): %v", err)
	}
	if s := (Encoding{Scheme: SigmaDelta, Threshold: 0.01, Relative: true, Rebase: 4}).String(); s != "sigma-delta θ=0.01×rms rebase 4" {
		t.Errorf("String = %q", s)
	}
}
