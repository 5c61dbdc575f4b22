package baselines

import (
	"github.com/convngc/convngc/ngc/tensor"
)

// Act applies an elementwise activation of package tensor (ReLU, SELU,
// Sigmoid, LeakyReLU, Identity); its gradient is dx = dy ⊙ f'(x).
type Act struct {
	F tensor.Activation // the activation function

	x, y, dx []float32
}

// NewAct returns the activation layer of f.
func NewAct(f tensor.Activation) *Act { return &Act{F: f} }

// Setup implements Layer.
func (a *Act) Setup(in Shape) (Shape, error) {
	if err := in.validate(); err != nil {
		return Shape{}, err
	}
	a.y = grow(a.y, in.Len())
	a.dx = grow(a.dx, in.Len())
	return in, nil
}

// Forward implements Layer.
func (a *Act) Forward(x []float32, _ bool) []float32 {
	checkLen("Act input", x, len(a.y))
	a.x = x
	a.F.Apply(a.y, x)
	return a.y
}

// Backward implements Layer.
func (a *Act) Backward(dy []float32) []float32 {
	checkLen("Act output gradient", dy, len(a.dx))
	tensor.ParallelFor(len(dy), 4, func(lo, hi int) {
		dx := a.dx[lo:hi]
		a.F.Deriv(dx, a.x[lo:hi])
		for i, d := range dy[lo:hi] {
			dx[i] *= d
		}
	})
	return a.dx
}

// Params implements Layer: an activation has none.
func (a *Act) Params() []*Param { return nil }
