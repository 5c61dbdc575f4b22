package metrics_test

import (
	"encoding/json"
	"fmt"
	"log"

	"github.com/convngc/convngc/ngc/metrics"
)

// gradient returns n images of c channels of h×w pixels: a diagonal ramp
// in [0, 1], darkened by dim. The layout is NCHW, row-major.
func gradient(s metrics.Shape, dim float32) []float32 {
	v := make([]float32, 0, s.Len())
	for range s.N * s.C {
		for r := range s.H {
			for c := range s.W {
				v = append(v, float32(r+c)/float32(s.H+s.W-2)-dim)
			}
		}
	}
	return v
}

func ExampleEvaluate() {
	s := metrics.Shape{N: 2, C: 3, H: 16, W: 16}
	x := gradient(s, 0)
	xhat := gradient(s, 0.1) // every pixel 0.1 (25.5 on [0, 255]) too dark

	r, err := metrics.Evaluate(x, xhat, s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("images: %d\n", r.Images)
	fmt.Printf("MSE:    %.2f\n", r.MSE) // 25.5² = 650.25
	fmt.Printf("PSNR:   %.2f dB\n", r.PSNR)
	fmt.Printf("SSIM (Eq. 5, global window): %.4f\n", r.SSIM)
	fmt.Printf("SSIM (11×11 Gaussian):       %.4f\n", r.SSIMGaussian)
	// Output:
	// images: 2
	// MSE:    650.25
	// PSNR:   20.00 dB
	// SSIM (Eq. 5, global window): 0.9756
	// SSIM (11×11 Gaussian):       0.9730
}

func ExampleReport() {
	// Reports marshal to JSON under these keys.
	b, err := json.Marshal(metrics.Report{MSE: 650.25, PSNR: 20, SSIM: 0.9, SSIMGaussian: 0.8, Images: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output:
	// {"mse":650.25,"psnr":20,"ssim":0.9,"ssim_gaussian":0.8,"images":2}
}

func ExampleAccumulator() {
	// Evaluation runs in mini-batches; the Accumulator's means equal
	// Evaluate on all the images at once.
	s := metrics.Shape{N: 4, C: 1, H: 11, W: 11}
	var acc metrics.Accumulator
	for batch := range 3 {
		x := gradient(s, 0)
		xhat := gradient(s, 0.05*float32(batch)) // batch 0 is exact
		if err := acc.Add(x, xhat, s); err != nil {
			log.Fatal(err)
		}
	}
	r := acc.Report()
	// MSE: (0 + 12.75² + 25.5²)/3; PSNR: (100 + 26.02 + 20)/3 dB.
	fmt.Printf("%d images, MSE %.4f, PSNR %.2f dB\n", r.Images, r.MSE, r.PSNR)
	// Output:
	// 12 images, MSE 270.9375, PSNR 48.67 dB
}

func ExamplePSNR() {
	s := metrics.Shape{N: 1, C: 1, H: 4, W: 4}
	x := gradient(s, 0)
	p, err := metrics.PSNR(x, x, s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p) // an exact reproduction is capped at MaxPSNR

	_, err = metrics.PSNR(x, x[:15], s)
	fmt.Println(err)
	// Output:
	// 100
	// metrics: PSNR: len(x) = 16, len(xhat) = 15, want 16 for shape 1x1x4x4: metrics: shape mismatch
}
