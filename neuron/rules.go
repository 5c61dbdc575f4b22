package neuron

import (
	"fmt"
	"math"

	"github.com/convngc/convngc/ngc/tensor"
)

// These functions are the update rules of Conv-NGC, written once. They work
// on any number of consecutive feature maps in the [C][B·H·W] layout of
// package tensor, so a map actor calls them on its own map and the batched
// reference (package ngc) calls them on whole layers.

// Predict finishes a prediction in place: mu[c][p] = g(mu[c][p] + bias[c])
// for every map c of plane floats, where mu holds the summed transposed
// convolutions from the layer above.
func Predict(mu, bias []float32, plane int, g tensor.Activation) {
	if len(mu) != len(bias)*plane {
		panic(fmt.Sprintf("neuron: Predict with %d floats for %d maps of %d", len(mu), len(bias), plane))
	}
	tensor.ParallelFor(len(bias), plane, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			m := mu[c*plane : (c+1)*plane]
			b := bias[c]
			for i := range m {
				m[i] += b
			}
			if g != tensor.Identity {
				g.Apply(m, m)
			}
		}
	})
}

// Error writes the prediction error e = z − mu and returns ½·Σe², the error
// energy of these maps summed over the mini-batch.
func Error(e, z, mu []float32) float64 {
	if len(e) != len(z) || len(z) != len(mu) {
		panic("neuron: Error with mismatched lengths")
	}
	energy := tensor.ChunkedSum(len(z), func(lo, hi int) float64 {
		var s float64
		zz, mm, ee := z[lo:hi], mu[lo:hi], e[lo:hi]
		for i, v := range zz {
			d := v - mm[i]
			ee[i] = d
			s += float64(d) * float64(d)
		}
		return s
	})
	return energy / 2
}

// StateParams are the constants of the state correction.
type StateParams struct {
	Beta  float32           // state update rate β
	Gamma float32           // leak γ
	PCN   bool              // multiply the bottom-up term by φ'(z) (the PCN variant)
	Phi   tensor.Activation // φ, used for φ' when PCN is set
}

// Correct moves the states one step down the energy (Jacobi order: e and fb
// were computed from the states before this call):
//
//	d = −e + fb    (fb ⊙ φ'(z) with PCN)
//	z ← z + β·d − γ·z
//
// e is the error of these states (nil for the top layer, whose error is
// zero); fb is the bottom-up feedback E ∗ e_below (nil for a layer without a
// layer below, as the image layer while it evolves during denoising).
func Correct(z, e, fb []float32, p StateParams) {
	if (e != nil && len(e) != len(z)) || (fb != nil && len(fb) != len(z)) {
		panic("neuron: Correct with mismatched lengths")
	}
	tensor.ParallelFor(len(z), 4, func(lo, hi int) {
		var ee, ff []float32
		if e != nil {
			ee = e[lo:hi]
		}
		if fb != nil {
			ff = fb[lo:hi]
		}
		correct(z[lo:hi], ee, ff, p)
	})
}

func correct(z, e, fb []float32, p StateParams) {
	beta, keep := p.Beta, 1-p.Gamma
	switch {
	case e != nil && fb != nil && !p.PCN:
		e = e[:len(z)]
		fb = fb[:len(z)]
		for i, v := range z {
			z[i] = keep*v + beta*(fb[i]-e[i])
		}
		return
	case e == nil && fb != nil && !p.PCN:
		fb = fb[:len(z)]
		for i, v := range z {
			z[i] = keep*v + beta*fb[i]
		}
		return
	}
	for i, v := range z {
		var d float32
		if e != nil {
			d = -e[i]
		}
		if fb != nil {
			f := fb[i]
			if p.PCN {
				f *= derivAt(p.Phi, v)
			}
			d += f
		}
		z[i] = keep*v + beta*d
	}
}

// derivAt is φ'(v) for one value.
func derivAt(a tensor.Activation, v float32) float32 {
	switch a {
	case tensor.Identity:
		return 1
	case tensor.LeakyReLU:
		if v > 0 {
			return 1
		}
		return tensor.LeakySlope
	case tensor.ReLU:
		if v > 0 {
			return 1
		}
		return 0
	}
	var d [1]float32
	a.Deriv(d[:], []float32{v})
	return d[0]
}

// BiasGrad writes into db[c] alpha·Σ e[c][·] for every map c of plane floats:
// the bias part of the Hebbian update (the negative energy gradient).
func BiasGrad(db, e []float32, plane int, alpha float32) {
	if len(e) != len(db)*plane {
		panic("neuron: BiasGrad with mismatched lengths")
	}
	for c := range db {
		var s float64
		for _, v := range e[c*plane : (c+1)*plane] {
			s += float64(v)
		}
		db[c] = alpha * float32(s)
	}
}

// ProjectKernels rescales every kernel of kk taps in w (consecutive blocks)
// whose Euclidean norm exceeds maxNorm back onto the ball of radius maxNorm.
// A non-positive maxNorm disables the projection.
func ProjectKernels(w []float32, kk int, maxNorm float64) {
	if maxNorm <= 0 {
		return
	}
	for off := 0; off+kk <= len(w); off += kk {
		k := w[off : off+kk]
		n := math.Sqrt(tensor.SumSquares(k))
		if n > maxNorm {
			s := float32(maxNorm / n)
			for i := range k {
				k[i] *= s
			}
		}
	}
}
