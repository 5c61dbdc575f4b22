package ngc_test

import (
	"fmt"
	"log"

	"github.com/convngc/convngc/ngc"
)

// The paper's network, described by the zero Config.
func ExampleInspect() {
	s := ngc.Inspect(ngc.Config{})
	fmt.Println(s.Weights, "kernel weights,", s.Biases, "biases")
	fmt.Println(s.StateMaps, "state maps,", s.ErrorMaps, "error maps")
	// Output:
	// 9225 kernel weights, 63 biases
	// 73 state maps, 63 error maps
}

// Train on one mini-batch and reconstruct it, deterministically.
func ExampleModel_TrainBatch() {
	m, err := ngc.New(ngc.Config{Channels: []int{4, 6, 3}, ImageSize: 8, Steps: 20, TopStd: ngc.Float(0), LearningRate: 0.01})
	if err != nil {
		log.Fatal(err)
	}
	const batch = 2
	ws, err := m.NewWorkspace(batch)
	if err != nil {
		log.Fatal(err)
	}
	x := make([]float32, batch*3*8*8) // two images [B][C][H][W] in [0,1]
	for i := range x {
		x[i] = float32(i%8) / 8
	}
	var first, last ngc.Trace
	for i := 0; i < 50; i++ {
		tr := &last
		if i == 0 {
			tr = &first
		}
		if err := m.TrainBatch(ws, x, nil, tr); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("energy fell:", last.FinalTotal() < first.FinalTotal()/2)
	out := make([]float32, len(x))
	ws.Output(out) // the reconstruction x̂ = mu[0]
	fmt.Println(len(out), "reconstructed values")
	// Output:
	// energy fell: true
	// 384 reconstructed values
}
