// Package optim holds the parameter update rules shared by Conv-NGC (batched
// and in actors) and the backprop baselines: Adam and the paper's normalised
// step. Each optimiser keeps the state of one parameter tensor; the rules are
// elementwise (Adam) or per kernel block (Normalized), so a parameter tensor
// split among several map actors, each with its own optimiser over its share,
// moves exactly as the whole tensor would.
package optim

import (
	"fmt"
	"math"
)

// Optimizer moves one parameter tensor against a gradient.
type Optimizer interface {
	// Step updates params in place given grad, the gradient of the loss to
	// descend (the same length as params).
	Step(params, grad []float32)
}

// Adam is Kingma & Ba's adaptive moment estimation for one parameter tensor.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	M, V                  []float32 // first and second moment estimates
	T                     int       // steps taken
}

// NewAdam returns Adam state for n parameters with the usual defaults
// (β1 0.9, β2 0.999, ε 1e-8) and learning rate lr.
func NewAdam(n int, lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, M: make([]float32, n), V: make([]float32, n)}
}

// Step implements Optimizer.
func (a *Adam) Step(params, grad []float32) {
	if len(params) != len(a.M) || len(grad) != len(a.M) {
		panic(fmt.Sprintf("optim: Adam over %d parameters stepped with %d/%d", len(a.M), len(params), len(grad)))
	}
	a.T++
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	c1 := 1 - math.Pow(a.Beta1, float64(a.T))
	c2 := 1 - math.Pow(a.Beta2, float64(a.T))
	step := float32(a.LR / c1)
	sc2 := float32(1 / math.Sqrt(c2))
	eps := float32(a.Eps)
	for i, g := range grad {
		m := b1*a.M[i] + (1-b1)*g
		v := b2*a.V[i] + (1-b2)*g*g
		a.M[i], a.V[i] = m, v
		params[i] -= step * m / (float32(math.Sqrt(float64(v)))*sc2 + eps)
	}
}

// Normalized is the step of the paper's Algorithm 2: every block of Block
// consecutive parameters (one 3×3 kernel, Block = 9) moves by LR along the
// direction of its gradient, p ← p − LR·g/(‖g‖₂ + Eps).
type Normalized struct {
	LR, Eps float64
	Block   int
}

// Step implements Optimizer.
func (n *Normalized) Step(params, grad []float32) {
	if len(params) != len(grad) {
		panic("optim: Normalized stepped with mismatched lengths")
	}
	b := n.Block
	if b <= 0 {
		b = len(params)
	}
	for off := 0; off < len(params); off += b {
		end := min(off+b, len(params))
		var ss float64
		for _, g := range grad[off:end] {
			ss += float64(g) * float64(g)
		}
		s := float32(n.LR / (math.Sqrt(ss) + n.Eps))
		for i := off; i < end; i++ {
			params[i] -= s * grad[i]
		}
	}
}
