package baselines

import (
	"math"
	"math/rand/v2"
)

// GlorotUniform fills w with draws from U(−a, a), a = √(6/(fanIn+fanOut)),
// the initialisation of Glorot & Bengio (2010) and Keras' default. For a
// convolution with k×k kernels, fanIn = inC·k² and fanOut = outC·k².
func GlorotUniform(w []float32, fanIn, fanOut int, rng *rand.Rand) {
	a := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range w {
		w[i] = float32((2*rng.Float64() - 1) * a)
	}
}
