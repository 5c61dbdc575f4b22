package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// fill returns a batch of shape s whose value at (n, c, h, w) is f(n, c, h, w).
func fill(s Shape, f func(n, c, h, w int) float32) []float32 {
	v := make([]float32, 0, s.Len())
	for n := range s.N {
		for c := range s.C {
			for h := range s.H {
				for w := range s.W {
					v = append(v, f(n, c, h, w))
				}
			}
		}
	}
	return v
}

// random returns a batch of shape s with values uniform in [0, 1).
func random(s Shape, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	return fill(s, func(_, _, _, _ int) float32 { return r.Float32() })
}

func constant(v float32) func(n, c, h, w int) float32 {
	return func(_, _, _, _ int) float32 { return v }
}

// ssimOfMeans is Eq. 5 for two channels whose variances and covariance
// cancel or vanish: (2·a·b + C1)/(a² + b² + C1) on the [0, 255] scale.
func ssimOfMeans(a, b float64) float64 {
	return (2*a*b + c1) / (a*a + b*b + c1)
}

func TestHandChecked(t *testing.T) {
	const offsetMSE = 63.75 * 63.75  // a difference of 0.25 on [0, 1] is 63.75 on [0, 255]
	offsetPSNR := 20 * math.Log10(4) // 255/63.75 = 4
	constSSIM := ssimOfMeans(63.75, 127.5)
	checker := func(_, _, h, w int) float32 { return float32((h+w)%2) * 0.5 }
	nan := math.NaN() // not checked

	tests := []struct {
		name    string
		s       Shape
		x, xhat func(n, c, h, w int) float32
		want    Report
	}{
		{
			name: "identical",
			s:    Shape{N: 2, C: 3, H: 12, W: 13},
			x:    func(n, c, h, w int) float32 { return float32((n+2*c+3*h+5*w)%7) / 6 },
			xhat: func(n, c, h, w int) float32 { return float32((n+2*c+3*h+5*w)%7) / 6 },
			want: Report{MSE: 0, PSNR: MaxPSNR, SSIM: 1, SSIMGaussian: 1, Images: 2},
		},
		{
			// Means 63.75 and 127.5, equal variances and covariance
			// 63.75², which cancel in Eq. 5.
			name: "checkerboard plus offset",
			s:    Shape{N: 1, C: 2, H: 12, W: 12},
			x:    checker,
			xhat: func(n, c, h, w int) float32 { return checker(n, c, h, w) + 0.25 },
			want: Report{MSE: offsetMSE, PSNR: offsetPSNR, SSIM: constSSIM, SSIMGaussian: nan, Images: 1},
		},
		{
			// Zero variance everywhere: every window gives the same value.
			name: "constant images",
			s:    Shape{N: 2, C: 2, H: 11, W: 11},
			x:    constant(0.25),
			xhat: constant(0.5),
			want: Report{MSE: offsetMSE, PSNR: offsetPSNR, SSIM: constSSIM, SSIMGaussian: constSSIM, Images: 2},
		},
		{
			name: "average over channels",
			s:    Shape{N: 1, C: 2, H: 11, W: 14},
			x:    constant(0.25),
			xhat: func(_, c, _, _ int) float32 { return 0.25 + 0.25*float32(c) },
			want: Report{
				MSE: offsetMSE / 2, PSNR: (MaxPSNR + offsetPSNR) / 2,
				SSIM: (1 + constSSIM) / 2, SSIMGaussian: (1 + constSSIM) / 2, Images: 1,
			},
		},
		{
			name: "average over images",
			s:    Shape{N: 4, C: 1, H: 11, W: 11},
			x:    constant(0.25),
			xhat: func(n, _, _, _ int) float32 { return 0.25 + 0.25*float32(n%2) },
			want: Report{
				MSE: offsetMSE / 2, PSNR: (MaxPSNR + offsetPSNR) / 2,
				SSIM: (1 + constSSIM) / 2, SSIMGaussian: (1 + constSSIM) / 2, Images: 4,
			},
		},
		{
			// Means 127.5, variances 127.5², covariance −127.5².
			name: "inverted checkerboard",
			s:    Shape{N: 1, C: 1, H: 12, W: 12},
			x:    func(_, _, h, w int) float32 { return float32((h + w) % 2) },
			xhat: func(_, _, h, w int) float32 { return float32((h + w + 1) % 2) },
			want: Report{
				MSE: 255 * 255, PSNR: 0,
				SSIM:         (c2 - 2*127.5*127.5) / (c2 + 2*127.5*127.5),
				SSIMGaussian: nan, Images: 1,
			},
		},
		{
			// One float32 ulp at 0.5 is 2⁻²⁴: about 144 dB, capped.
			name: "PSNR cap",
			s:    Shape{N: 1, C: 1, H: 11, W: 11},
			x:    constant(0.5),
			xhat: constant(math.Nextafter32(0.5, 1)),
			want: Report{
				MSE: math.Pow(255*0x1p-24, 2), PSNR: MaxPSNR, SSIM: 1, SSIMGaussian: 1, Images: 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, xhat := fill(tt.s, tt.x), fill(tt.s, tt.xhat)
			got, err := Evaluate(x, xhat, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if got.Images != tt.want.Images {
				t.Errorf("Images = %d, want %d", got.Images, tt.want.Images)
			}
			for _, m := range []struct {
				name      string
				got, want float64
			}{
				{"MSE", got.MSE, tt.want.MSE},
				{"PSNR", got.PSNR, tt.want.PSNR},
				{"SSIM", got.SSIM, tt.want.SSIM},
				{"SSIMGaussian", got.SSIMGaussian, tt.want.SSIMGaussian},
			} {
				if math.IsNaN(m.want) {
					continue
				}
				if d := math.Abs(m.got - m.want); d > 1e-12*max(1, math.Abs(m.want)) {
					t.Errorf("%s = %.17g, want %.17g", m.name, m.got, m.want)
				}
			}
		})
	}
}

// bruteGaussianSSIM is scikit-image's algorithm written out directly for one
// H×W channel on the [0, 255] scale: 2-D Gaussian weights, scipy's 'reflect'
// border (… c b a | a b c …), an SSIM value at every pixel, then the mean
// over the pixels left after cropping the window radius from each border.
func bruteGaussianSSIM(x, y []float64, h, w int) float64 {
	k := gaussianKernel()
	reflect := func(i, n int) int {
		if i < 0 {
			return -i - 1
		}
		if i >= n {
			return 2*n - i - 1
		}
		return i
	}
	var total float64
	for i := gaussRadius; i < h-gaussRadius; i++ {
		for j := gaussRadius; j < w-gaussRadius; j++ {
			var ux, uy, uxx, uyy, uxy float64
			for a := -gaussRadius; a <= gaussRadius; a++ {
				for b := -gaussRadius; b <= gaussRadius; b++ {
					wt := k[a+gaussRadius] * k[b+gaussRadius]
					o := reflect(i+a, h)*w + reflect(j+b, w)
					ux += wt * x[o]
					uy += wt * y[o]
					uxx += wt * x[o] * x[o]
					uyy += wt * y[o] * y[o]
					uxy += wt * x[o] * y[o]
				}
			}
			vx, vy, vxy := uxx-ux*ux, uyy-uy*uy, uxy-ux*uy
			total += (2*ux*uy + c1) * (2*vxy + c2) / ((ux*ux + uy*uy + c1) * (vx + vy + c2))
		}
	}
	return total / float64((h-2*gaussRadius)*(w-2*gaussRadius))
}

func TestSSIMGaussianMatchesDirect2D(t *testing.T) {
	for i, s := range []Shape{
		{N: 1, C: 1, H: 11, W: 11},
		{N: 1, C: 1, H: 11, W: 30},
		{N: 2, C: 1, H: 17, W: 12},
		{N: 1, C: 3, H: 32, W: 32},
	} {
		x := random(s, uint64(2*i))
		xhat := fill(s, func(n, c, h, w int) float32 {
			v := x[((n*s.C+c)*s.H+h)*s.W+w]
			return 0.7*v + 0.15*float32((h*w)%5)/4
		})
		got, err := SSIMGaussian(x, xhat, s)
		if err != nil {
			t.Fatal(err)
		}
		plane := s.H * s.W
		var want float64
		for p := range s.N * s.C {
			a, b := make([]float64, plane), make([]float64, plane)
			for q := range plane {
				a[q] = float64(x[p*plane+q]) * DataRange
				b[q] = float64(xhat[p*plane+q]) * DataRange
			}
			want += bruteGaussianSSIM(a, b, s.H, s.W)
		}
		want /= float64(s.N * s.C)
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("shape %v: SSIMGaussian = %.17g, direct 2-D = %.17g", s, got, want)
		}
	}
}

func TestGaussianKernel(t *testing.T) {
	// scipy.ndimage._filters._gaussian_kernel1d(1.5, 0, 5), SciPy 1.10.1.
	want := [GaussianWindow]float64{
		0.00102838008447911, 0.007598758135239186, 0.036000772128430815,
		0.10936068950970002, 0.2130055377112537, 0.26601172486179436,
		0.2130055377112537, 0.10936068950970002, 0.036000772128430815,
		0.007598758135239186, 0.00102838008447911,
	}
	got := gaussianKernel()
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-16 {
			t.Errorf("kernel[%d] = %.17g, want %.17g", i, got[i], want[i])
		}
	}
}

func TestSymmetric(t *testing.T) {
	s := Shape{N: 3, C: 2, H: 13, W: 15}
	x, xhat := random(s, 1), random(s, 2)
	a, err := Evaluate(x, xhat, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(xhat, x, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []float64{a.MSE - b.MSE, a.PSNR - b.PSNR, a.SSIM - b.SSIM, a.SSIMGaussian - b.SSIMGaussian} {
		if math.Abs(d) > 1e-12 {
			t.Fatalf("Evaluate(x, xhat) = %+v, Evaluate(xhat, x) = %+v", a, b)
		}
	}
}

func TestIndependentOfGOMAXPROCS(t *testing.T) {
	s := Shape{N: 9, C: 3, H: 16, W: 16}
	x, xhat := random(s, 3), random(s, 4)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var reports []Report
	for _, p := range []int{1, 2, 4, 16} {
		runtime.GOMAXPROCS(p)
		r, err := Evaluate(x, xhat, s)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, r)
	}
	for i, r := range reports[1:] {
		if r != reports[0] {
			t.Errorf("report %d = %+v, want %+v (GOMAXPROCS 1)", i+1, r, reports[0])
		}
	}
}

func TestAccumulatorEqualsEvaluate(t *testing.T) {
	s := Shape{N: 7, C: 3, H: 16, W: 12}
	x, xhat := random(s, 5), random(s, 6)
	want, err := Evaluate(x, xhat, s)
	if err != nil {
		t.Fatal(err)
	}
	size := s.C * s.H * s.W
	for _, split := range [][]int{{7}, {1, 6}, {3, 3, 1}, {1, 1, 1, 1, 1, 1, 1}} {
		var acc Accumulator
		lo := 0
		for _, n := range split {
			b := Shape{N: n, C: s.C, H: s.H, W: s.W}
			if err := acc.Add(x[lo*size:(lo+n)*size], xhat[lo*size:(lo+n)*size], b); err != nil {
				t.Fatal(err)
			}
			lo += n
		}
		// A failed Add must leave the accumulator unchanged.
		if err := acc.Add(x[:size], xhat[:size-1], Shape{N: 1, C: s.C, H: s.H, W: s.W}); !errors.Is(err, ErrShape) {
			t.Fatalf("Add with a short xhat: err = %v, want ErrShape", err)
		}
		if got := acc.Report(); got != want {
			t.Errorf("batches %v: Report = %+v, want Evaluate = %+v", split, got, want)
		}
	}
}

func TestAccumulatorEmptyAndReset(t *testing.T) {
	var acc Accumulator
	if got := acc.Report(); got != (Report{}) {
		t.Errorf("empty Report = %+v, want zero", got)
	}
	s := Shape{N: 2, C: 1, H: 11, W: 11}
	if err := acc.Add(random(s, 7), random(s, 8), s); err != nil {
		t.Fatal(err)
	}
	if got := acc.Report().Images; got != 2 {
		t.Errorf("Images = %d, want 2", got)
	}
	acc.Reset()
	if got := acc.Report(); got != (Report{}) {
		t.Errorf("Report after Reset = %+v, want zero", got)
	}
}

func TestPerImageMeanIsEvaluate(t *testing.T) {
	s := Shape{N: 5, C: 2, H: 11, W: 16}
	x, xhat := random(s, 9), random(s, 10)
	per, err := PerImage(x, xhat, s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Evaluate(x, xhat, s)
	if err != nil {
		t.Fatal(err)
	}
	var sum sums
	sum.add(per)
	if got := sum.mean(); got != want {
		t.Errorf("mean of PerImage = %+v, want %+v", got, want)
	}
	for i, r := range per {
		if r.Images != 1 {
			t.Errorf("PerImage[%d].Images = %d, want 1", i, r.Images)
		}
		// Each image alone must give the same values.
		size := s.C * s.H * s.W
		one, err := Evaluate(x[i*size:(i+1)*size], xhat[i*size:(i+1)*size], Shape{N: 1, C: s.C, H: s.H, W: s.W})
		if err != nil {
			t.Fatal(err)
		}
		if one != r {
			t.Errorf("PerImage[%d] = %+v, Evaluate of image %d alone = %+v", i, r, i, one)
		}
	}
}

// all calls every entry point of the package and returns their errors.
func all(x, xhat []float32, s Shape) map[string]error {
	errs := make(map[string]error)
	_, errs["MSE"] = MSE(x, xhat, s)
	_, errs["PSNR"] = PSNR(x, xhat, s)
	_, errs["SSIM"] = SSIM(x, xhat, s)
	_, errs["SSIMGaussian"] = SSIMGaussian(x, xhat, s)
	_, errs["Evaluate"] = Evaluate(x, xhat, s)
	_, errs["PerImage"] = PerImage(x, xhat, s)
	var acc Accumulator
	errs["Accumulator.Add"] = acc.Add(x, xhat, s)
	return errs
}

func TestErrors(t *testing.T) {
	ok := Shape{N: 2, C: 3, H: 11, W: 11}
	n := ok.Len()
	tests := []struct {
		name    string
		s       Shape
		nx, nxh int
		want    error
	}{
		{"short x", ok, n - 1, n, ErrShape},
		{"short xhat", ok, n, n - 1, ErrShape},
		{"both long", ok, n + 1, n + 1, ErrShape},
		{"nil slices", ok, 0, 0, ErrShape},
		{"zero images", Shape{N: 0, C: 3, H: 11, W: 11}, 0, 0, ErrShape},
		{"negative height", Shape{N: 1, C: 3, H: -11, W: -11}, 363, 363, ErrShape},
		{"overflow", Shape{N: math.MaxInt / 2, C: 4, H: 11, W: 11}, 0, 0, ErrShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for f, err := range all(make([]float32, tt.nx), make([]float32, tt.nxh), tt.s) {
				if !errors.Is(err, tt.want) {
					t.Errorf("%s: err = %v, want %v", f, err, tt.want)
				}
			}
		})
	}
}

func TestTooSmallForGaussianWindow(t *testing.T) {
	for _, s := range []Shape{{N: 1, C: 1, H: 10, W: 32}, {N: 2, C: 3, H: 32, W: 8}, {N: 1, C: 1, H: 1, W: 1}} {
		x := make([]float32, s.Len())
		errs := all(x, x, s)
		for _, f := range []string{"MSE", "PSNR", "SSIM"} {
			if errs[f] != nil {
				t.Errorf("shape %v: %s: %v", s, f, errs[f])
			}
		}
		for _, f := range []string{"SSIMGaussian", "Evaluate", "PerImage", "Accumulator.Add"} {
			if !errors.Is(errs[f], ErrTooSmall) {
				t.Errorf("shape %v: %s: err = %v, want ErrTooSmall", s, f, errs[f])
			}
		}
	}
}

// FuzzShapes checks that arbitrary shapes and slice lengths give an error or
// finite metrics, never a panic.
func FuzzShapes(f *testing.F) {
	f.Add(1, 1, 11, 11, 121, 121)
	f.Add(2, 3, 4, 4, 96, 95)
	f.Add(-1, 0, 11, 11, 0, 0)
	f.Add(math.MaxInt, math.MaxInt, 2, 2, 8, 8)
	f.Fuzz(func(t *testing.T, n, c, h, w, nx, nxh int) {
		if nx < 0 || nxh < 0 || nx > 1<<14 || nxh > 1<<14 {
			t.Skip()
		}
		s := Shape{N: n, C: c, H: h, W: w}
		x, xhat := make([]float32, nx), make([]float32, nxh)
		for i := range x {
			x[i] = float32(i%7) / 6
		}
		r, err := Evaluate(x, xhat, s)
		if err != nil {
			if !errors.Is(err, ErrShape) && !errors.Is(err, ErrTooSmall) {
				t.Fatalf("shape %v: unexpected error %v", s, err)
			}
			return
		}
		for _, v := range []float64{r.MSE, r.PSNR, r.SSIM, r.SSIMGaussian} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("shape %v: non-finite metric in %+v", s, r)
			}
		}
	})
}

func BenchmarkEvaluate(b *testing.B) {
	s := Shape{N: 1000, C: 3, H: 32, W: 32}
	x, xhat := random(s, 11), random(s, 12)
	for b.Loop() {
		if _, err := Evaluate(x, xhat, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.N)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}
