package hwsim

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantizeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const scale = 1.5
	for _, bits := range []int{2, 4, 5, 8, 12, 16, 24, 31} {
		step := float64(QuantStep(bits, scale))
		if want := scale / math.Ldexp(1, bits-1); math.Abs(step-want) > want*1e-7 {
			t.Fatalf("QuantStep(%d) = %g, want %g", bits, step, want)
		}
		src := make([]float32, 2000)
		for i := range src {
			// Uniform over the representable range [−scale, scale−step].
			src[i] = float32(-scale + rng.Float64()*(2*scale-step))
		}
		src[0], src[1] = -scale, float32(scale-step)
		dst := make([]float32, len(src))
		if err := Quantize(dst, src, bits, scale); err != nil {
			t.Fatal(err)
		}
		for i, x := range src {
			q := float64(dst[i])
			// Half a step, plus float32 rounding of the result.
			if d := math.Abs(q - float64(x)); d > step/2+math.Abs(q)*1e-7 {
				t.Fatalf("bits %d: %g → %g, error %g > step/2 = %g", bits, x, q, d, step/2)
			}
			if k := q / step; bits <= 16 && k != math.Round(k) { // exact in float32 up to here
				t.Fatalf("bits %d: %g is not a multiple of the step %g", bits, q, step)
			}
			if q < -scale || q > scale-step+1e-7 {
				t.Fatalf("bits %d: %g outside the code's range", bits, q)
			}
		}
	}
}

func TestQuantizeSaturatesAndKeepsNaN(t *testing.T) {
	src := []float32{10, -10, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0}
	dst := make([]float32, len(src))
	if err := Quantize(dst, src, 8, 1); err != nil {
		t.Fatal(err)
	}
	top := float32(1 - 1.0/128)
	want := []float32{top, -1, top, -1}
	for i, w := range want {
		if dst[i] != w {
			t.Errorf("Quantize(%g) = %g, want %g", src[i], dst[i], w)
		}
	}
	if !math.IsNaN(float64(dst[4])) {
		t.Errorf("NaN became %g", dst[4])
	}
	if dst[5] != 0 {
		t.Errorf("0 became %g", dst[5])
	}
}

func TestQuantize32IsIdentity(t *testing.T) {
	src := []float32{0, 1e-40, -3.25, 1e30, math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.NaN())}
	dst := make([]float32, len(src)+2)
	if err := Quantize(dst, src, 32, 1); err != nil {
		t.Fatal(err)
	}
	for i, x := range src {
		if math.Float32bits(dst[i]) != math.Float32bits(x) {
			t.Errorf("32 bits: %g became %g", x, dst[i])
		}
	}
}

func TestQuantizeInPlace(t *testing.T) {
	x := []float32{0.3, -0.3, 0.51}
	if err := Quantize(x, x, 2, 1); err != nil {
		t.Fatal(err)
	}
	// Two bits over [−1, 1): step 0.5, codes −1, −0.5, 0, 0.5.
	want := []float32{0.5, -0.5, 0.5}
	for i := range x {
		if x[i] != want[i] {
			t.Errorf("x[%d] = %g, want %g", i, x[i], want[i])
		}
	}
}

func TestQuantizeRejectsBadInput(t *testing.T) {
	src := []float32{1, 2}
	for _, tc := range []struct {
		name  string
		dst   []float32
		bits  int
		scale float32
	}{
		{"1 bit", make([]float32, 2), 1, 1},
		{"33 bits", make([]float32, 2), 33, 1},
		{"zero scale", make([]float32, 2), 8, 0},
		{"negative scale", make([]float32, 2), 8, -1},
		{"NaN scale", make([]float32, 2), 8, float32(math.NaN())},
		{"Inf scale", make([]float32, 2), 8, float32(math.Inf(1))},
		{"short dst", make([]float32, 1), 8, 1},
	} {
		if err := Quantize(tc.dst, src, tc.bits, tc.scale); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		for _, v := range tc.dst {
			if v != 0 {
				t.Errorf("%s: wrote %g despite the error", tc.name, v)
			}
		}
	}
}
