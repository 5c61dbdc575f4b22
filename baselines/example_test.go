package baselines_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/convngc/convngc/baselines"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// ramps returns a data set of n 32×32×3 images of diagonal colour ramps.
func ramps(n int) *data.Set {
	set := &data.Set{Name: "ramps", Images: make([]float32, n*data.ImageSize), Labels: make([]int, n)}
	for i := 0; i < n; i++ {
		img := set.Image(i)
		for c := 0; c < data.Channels; c++ {
			for p := 0; p < data.PlaneSize; p++ {
				y, x := p/data.Width, p%data.Width
				img[c*data.PlaneSize+p] = float32((y+x+7*i+11*c)%64) / 63
			}
		}
	}
	return set
}

// Train a Conv-AE briefly, measure how it denoises, and save it.
func Example() {
	ctx := context.Background()
	set := ramps(32)
	m, err := baselines.NewConvAE(baselines.AEConfig{LearningRate: 1e-3, Batch: 16, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name(), m.Params(), "parameters")

	fit, err := m.Fit(ctx, set, baselines.FitOptions{Epochs: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fit.Updates, "updates, objective", fit.Objective)

	res, err := m.Evaluate(ctx, set, ngc.EvalOptions{Task: ngc.Denoise, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Images, "images", res.Task+"d; PSNR above 0 dB:", res.Report.PSNR > 0)

	dir, err := os.MkdirTemp("", "baselines")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "conv-ae.safetensors")
	if err := m.Save(path); err != nil {
		log.Fatal(err)
	}
	back, err := baselines.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("loaded", back.Name())
	// Output:
	// conv-ae 48393 parameters
	// 4 updates, objective bce
	// 32 images denoised; PSNR above 0 dB: true
	// loaded conv-ae
}

// The paper's fully connected NGC and its parameter count.
func ExampleNewNGC() {
	m, err := baselines.NewNGC(baselines.NGCConfig{})
	if err != nil {
		log.Fatal(err)
	}
	c := m.Config()
	fmt.Println(m.Name(), c.Units, "T =", c.Steps, "parameters:", m.Params())
	// Output: ngc [200 200 200 200 3072] T = 60 parameters: 738072
}
