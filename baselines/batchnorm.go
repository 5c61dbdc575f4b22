package baselines

import (
	"fmt"
	"math"

	"github.com/convngc/convngc/ngc/tensor"
)

// BatchNorm is batch normalisation (Ioffe & Szegedy 2015) over the maps of
// a convolutional layer: each map c is normalised over its B×H×W values and
// then scaled and shifted,
//
//	y = γ[c]·(x − m[c])/√(v[c] + ε) + β[c].
//
// In training mode m and v are the mean and the (biased) variance of the
// mini-batch, and the running averages move towards them:
// r ← Momentum·r + (1 − Momentum)·batch value, as Keras does. In evaluation
// mode m and v are the running averages.
//
// Trainable parameters: "<name>.gamma" (initially 1) and "<name>.beta"
// (initially 0), shape [C]. State: "<name>.running_mean" (initially 0) and
// "<name>.running_var" (initially 1).
type BatchNorm struct {
	C                 int     // maps
	Momentum, Epsilon float64 // running-average momentum and ε
	// Gamma and Beta are the trainable scale and shift.
	Gamma, Beta *Param
	// RunningMean and RunningVar are the running statistics (Grad nil).
	RunningMean, RunningVar *Param

	plane  int
	train  bool
	xhat   []float32
	invStd []float64
	y, dx  []float32
}

// NewBatchNorm returns a batch normalisation of c maps. Keras' defaults are
// momentum 0.99 and ε 0.001.
func NewBatchNorm(name string, c int, momentum, epsilon float64) (*BatchNorm, error) {
	if c <= 0 || momentum < 0 || momentum > 1 || epsilon <= 0 {
		return nil, fmt.Errorf("%w: batch norm %s of %d maps, momentum %g, epsilon %g", ErrShape, name, c, momentum, epsilon)
	}
	bn := &BatchNorm{C: c, Momentum: momentum, Epsilon: epsilon,
		Gamma:       newParam(name+".gamma", true, c),
		Beta:        newParam(name+".beta", true, c),
		RunningMean: newParam(name+".running_mean", false, c),
		RunningVar:  newParam(name+".running_var", false, c)}
	for i := range bn.Gamma.Value {
		bn.Gamma.Value[i] = 1
		bn.RunningVar.Value[i] = 1
	}
	return bn, nil
}

// Setup implements Layer.
func (bn *BatchNorm) Setup(in Shape) (Shape, error) {
	if err := in.validate(); err != nil {
		return Shape{}, err
	}
	if in.C != bn.C {
		return Shape{}, fmt.Errorf("%w: batch norm %s takes %d maps, got %v", ErrShape, bn.Gamma.Name, bn.C, in)
	}
	bn.plane = in.Plane()
	bn.xhat = grow(bn.xhat, in.Len())
	bn.y = grow(bn.y, in.Len())
	bn.dx = grow(bn.dx, in.Len())
	if len(bn.invStd) != bn.C {
		bn.invStd = make([]float64, bn.C)
	}
	return in, nil
}

// Forward implements Layer.
func (bn *BatchNorm) Forward(x []float32, train bool) []float32 {
	checkLen("BatchNorm input", x, bn.C*bn.plane)
	bn.train = train
	p := bn.plane
	tensor.ParallelFor(bn.C, 3*p, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			xc := x[c*p : (c+1)*p]
			var mean, variance float64
			if train {
				for _, v := range xc {
					mean += float64(v)
				}
				mean /= float64(p)
				for _, v := range xc {
					d := float64(v) - mean
					variance += d * d
				}
				variance /= float64(p)
				mom := bn.Momentum
				bn.RunningMean.Value[c] = float32(mom*float64(bn.RunningMean.Value[c]) + (1-mom)*mean)
				bn.RunningVar.Value[c] = float32(mom*float64(bn.RunningVar.Value[c]) + (1-mom)*variance)
			} else {
				mean, variance = float64(bn.RunningMean.Value[c]), float64(bn.RunningVar.Value[c])
			}
			inv := 1 / math.Sqrt(variance+bn.Epsilon)
			bn.invStd[c] = inv
			m, s := float32(mean), float32(inv)
			g, b := bn.Gamma.Value[c], bn.Beta.Value[c]
			xh, yc := bn.xhat[c*p:(c+1)*p], bn.y[c*p:(c+1)*p]
			for i, v := range xc {
				h := (v - m) * s
				xh[i] = h
				yc[i] = g*h + b
			}
		}
	})
	return bn.y
}

// Backward implements Layer. After a training Forward it differentiates
// through the batch statistics; after an evaluation Forward the
// normalisation is a fixed affine map.
func (bn *BatchNorm) Backward(dy []float32) []float32 {
	checkLen("BatchNorm output gradient", dy, bn.C*bn.plane)
	p := bn.plane
	tensor.ParallelFor(bn.C, 3*p, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			dyc, xh, dxc := dy[c*p:(c+1)*p], bn.xhat[c*p:(c+1)*p], bn.dx[c*p:(c+1)*p]
			var sdy, sdyx float64
			for i, d := range dyc {
				sdy += float64(d)
				sdyx += float64(d) * float64(xh[i])
			}
			bn.Beta.Grad[c] = float32(sdy)
			bn.Gamma.Grad[c] = float32(sdyx)
			gs := float64(bn.Gamma.Value[c]) * bn.invStd[c]
			if !bn.train {
				s := float32(gs)
				for i, d := range dyc {
					dxc[i] = s * d
				}
				continue
			}
			// dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂))
			mdy, mdyx := float32(sdy/float64(p)), float32(sdyx/float64(p))
			s := float32(gs)
			for i, d := range dyc {
				dxc[i] = s * (d - mdy - xh[i]*mdyx)
			}
		}
	})
	return bn.dx
}

// Params implements Layer.
func (bn *BatchNorm) Params() []*Param { return []*Param{bn.Gamma, bn.Beta} }

// State implements Stateful.
func (bn *BatchNorm) State() []*Param { return []*Param{bn.RunningMean, bn.RunningVar} }
