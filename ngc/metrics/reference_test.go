package metrics

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// Tolerances against the values in testdata/expected.json, which
// testdata/gen_expected.py computed once with numpy (Eq. 4–6) and
// scikit-image 0.19.3 (Gaussian SSIM) from the same float32 inputs. Both sides
// work in float64, so only summation order differs; the observed
// disagreement is about 1e-15.
const (
	relTolMSE  = 1e-9 // relative, for MSE and PSNR
	absTolSSIM = 1e-9 // absolute, for both SSIMs (which lie in [-1, 1])
)

type referenceCase struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Shape struct {
		N int `json:"n"`
		C int `json:"c"`
		H int `json:"h"`
		W int `json:"w"`
	} `json:"shape"`
	Mean     Report   `json:"mean"`
	PerImage []Report `json:"per_image"`
}

func loadReference(t *testing.T) []referenceCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []referenceCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	if len(doc.Cases) == 0 {
		t.Fatal("expected.json has no cases")
	}
	return doc.Cases
}

// loadPair reads x then xhat, each s.Len() little-endian float32 values.
func loadPair(t *testing.T, file string, s Shape) (x, xhat []float32) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	n := s.Len()
	if len(b) != 2*4*n {
		t.Fatalf("%s: %d bytes, want %d for two %v batches", file, len(b), 8*n, s)
	}
	v := make([]float32, 2*n)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v[:n], v[n:]
}

func checkReport(t *testing.T, what string, got, want Report) {
	t.Helper()
	if got.Images != want.Images {
		t.Errorf("%s: Images = %d, want %d", what, got.Images, want.Images)
	}
	checkRel(t, what+" MSE", got.MSE, want.MSE, relTolMSE)
	checkRel(t, what+" PSNR", got.PSNR, want.PSNR, relTolMSE)
	checkAbs(t, what+" SSIM", got.SSIM, want.SSIM, absTolSSIM)
	checkAbs(t, what+" SSIMGaussian", got.SSIMGaussian, want.SSIMGaussian, absTolSSIM)
}

func checkRel(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if d := math.Abs(got - want); d > tol*math.Abs(want) && d != 0 {
		t.Errorf("%s = %.17g, want %.17g (relative error %.3g > %g)",
			what, got, want, d/math.Abs(want), tol)
	}
}

func checkAbs(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if d := math.Abs(got - want); !(d <= tol) {
		t.Errorf("%s = %.17g, want %.17g (error %.3g > %g)", what, got, want, d, tol)
	}
}

func TestAgainstReference(t *testing.T) {
	for _, c := range loadReference(t) {
		t.Run(c.Name, func(t *testing.T) {
			s := Shape{N: c.Shape.N, C: c.Shape.C, H: c.Shape.H, W: c.Shape.W}
			x, xhat := loadPair(t, c.File, s)

			got, err := Evaluate(x, xhat, s)
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, "Evaluate", got, c.Mean)

			single := []struct {
				name string
				f    func([]float32, []float32, Shape) (float64, error)
				want float64
				rel  bool
			}{
				{"MSE", MSE, c.Mean.MSE, true},
				{"PSNR", PSNR, c.Mean.PSNR, true},
				{"SSIM", SSIM, c.Mean.SSIM, false},
				{"SSIMGaussian", SSIMGaussian, c.Mean.SSIMGaussian, false},
			}
			for _, f := range single {
				v, err := f.f(x, xhat, s)
				if err != nil {
					t.Fatalf("%s: %v", f.name, err)
				}
				if f.rel {
					checkRel(t, f.name, v, f.want, relTolMSE)
				} else {
					checkAbs(t, f.name, v, f.want, absTolSSIM)
				}
			}

			per, err := PerImage(x, xhat, s)
			if err != nil {
				t.Fatal(err)
			}
			if len(per) != len(c.PerImage) {
				t.Fatalf("PerImage returned %d reports, want %d", len(per), len(c.PerImage))
			}
			for i := range per {
				checkReport(t, fmt.Sprintf("PerImage[%d]", i), per[i], c.PerImage[i])
			}
		})
	}
}
