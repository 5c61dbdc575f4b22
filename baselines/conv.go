package baselines

import (
	"fmt"
	"math/rand/v2"

	"github.com/convngc/convngc/ngc/tensor"
)

// Conv2D is a strided 2-D convolution with TensorFlow "SAME" padding and a
// bias per output map: an input of H×W pixels gives ⌈H/S⌉×⌈W/S⌉.
//
//	y[o] = Σ_c K[o][c] ∗ x[c] + b[o]
//
// Parameters: "<name>.weight" of shape [Out][In][K][K] (PyTorch's Conv2d
// layout) and "<name>.bias" of shape [Out]. It runs on tensor.Conv, its
// input gradient on tensor.ConvT and its kernel gradient on
// tensor.ConvKernelGrad.
type Conv2D struct {
	In, Out   int // input and output maps
	K, Stride int // kernel side and stride
	// Weight and Bias are the parameters; their Grad is written by Backward.
	Weight, Bias *Param

	spec     tensor.ConvSpec
	x        []float32
	y, dx    []float32
	cols     []float32
	outPlane int
}

// NewConv2D returns a convolution from in to out maps with k×k kernels and
// the given stride, its kernels drawn Glorot-uniform from rng and its biases
// zero.
func NewConv2D(name string, in, out, k, stride int, rng *rand.Rand) (*Conv2D, error) {
	if in <= 0 || out <= 0 || k <= 0 || stride <= 0 {
		return nil, fmt.Errorf("%w: conv %s with %d→%d maps, kernel %d, stride %d", ErrShape, name, in, out, k, stride)
	}
	c := &Conv2D{In: in, Out: out, K: k, Stride: stride,
		Weight: newParam(name+".weight", true, out, in, k, k),
		Bias:   newParam(name+".bias", true, out)}
	GlorotUniform(c.Weight.Value, in*k*k, out*k*k, rng)
	return c, nil
}

// Setup implements Layer.
func (c *Conv2D) Setup(in Shape) (Shape, error) {
	if err := in.validate(); err != nil {
		return Shape{}, err
	}
	if in.C != c.In {
		return Shape{}, fmt.Errorf("%w: conv %s takes %d maps, got %v", ErrShape, c.Weight.Name, c.In, in)
	}
	g, err := tensor.SameGeom(in.H, in.W, c.K, c.Stride)
	if err != nil {
		return Shape{}, fmt.Errorf("%w: %v", ErrShape, err)
	}
	c.spec = tensor.ConvSpec{Geom: g, Batch: in.B, InC: c.In, OutC: c.Out}
	c.y = grow(c.y, c.spec.OutLen())
	c.dx = grow(c.dx, c.spec.InLen())
	c.cols = grow(c.cols, c.spec.ColsLen())
	c.outPlane = in.B * g.OutH * g.OutW
	return Shape{C: c.Out, B: in.B, H: g.OutH, W: g.OutW}, nil
}

// Forward implements Layer.
func (c *Conv2D) Forward(x []float32, _ bool) []float32 {
	checkLen("Conv2D input", x, c.spec.InLen())
	c.x = x
	tensor.Conv(c.y, x, c.Weight.Value, c.cols, c.spec)
	addBias(c.y, c.Bias.Value, c.outPlane)
	return c.y
}

// Backward implements Layer.
func (c *Conv2D) Backward(dy []float32) []float32 {
	checkLen("Conv2D output gradient", dy, c.spec.OutLen())
	tensor.ConvKernelGrad(c.Weight.Grad, c.x, dy, c.cols, c.spec, 1, 0)
	sumMaps(c.Bias.Grad, dy, c.outPlane)
	tensor.ConvT(c.dx, dy, c.Weight.Value, c.cols, c.spec)
	return c.dx
}

// Params implements Layer.
func (c *Conv2D) Params() []*Param { return []*Param{c.Weight, c.Bias} }

// ConvTranspose2D is the transposed ("deconvolution") counterpart of
// Conv2D: the exact adjoint of a SAME convolution with the same kernel and
// stride, plus a bias per output map. An input of H×W pixels gives
// (H·S)×(W·S), as TensorFlow's conv2d_transpose with "SAME" padding.
//
// Parameters: "<name>.weight" of shape [In][Out][K][K] (PyTorch's
// ConvTranspose2d layout: the small side's maps first) and "<name>.bias" of
// shape [Out]. It runs on tensor.ConvT, its input gradient on tensor.Conv
// and its kernel gradient on tensor.ConvKernelGrad.
type ConvTranspose2D struct {
	In, Out   int // input (small side) and output (large side) maps
	K, Stride int // kernel side and stride
	// Weight and Bias are the parameters; their Grad is written by Backward.
	Weight, Bias *Param

	spec     tensor.ConvSpec
	x        []float32
	y, dx    []float32
	cols     []float32
	outPlane int
}

// NewConvTranspose2D returns a transposed convolution from in to out maps
// with k×k kernels and the given stride, its kernels drawn Glorot-uniform
// from rng and its biases zero.
func NewConvTranspose2D(name string, in, out, k, stride int, rng *rand.Rand) (*ConvTranspose2D, error) {
	if in <= 0 || out <= 0 || k <= 0 || stride <= 0 {
		return nil, fmt.Errorf("%w: transposed conv %s with %d→%d maps, kernel %d, stride %d", ErrShape, name, in, out, k, stride)
	}
	c := &ConvTranspose2D{In: in, Out: out, K: k, Stride: stride,
		Weight: newParam(name+".weight", true, in, out, k, k),
		Bias:   newParam(name+".bias", true, out)}
	GlorotUniform(c.Weight.Value, in*k*k, out*k*k, rng)
	return c, nil
}

// Setup implements Layer.
func (c *ConvTranspose2D) Setup(in Shape) (Shape, error) {
	if err := in.validate(); err != nil {
		return Shape{}, err
	}
	if in.C != c.In {
		return Shape{}, fmt.Errorf("%w: transposed conv %s takes %d maps, got %v", ErrShape, c.Weight.Name, c.In, in)
	}
	g, err := tensor.SameGeom(in.H*c.Stride, in.W*c.Stride, c.K, c.Stride)
	if err != nil {
		return Shape{}, fmt.Errorf("%w: %v", ErrShape, err)
	}
	// The large side is the output: InC counts the output maps.
	c.spec = tensor.ConvSpec{Geom: g, Batch: in.B, InC: c.Out, OutC: c.In}
	c.y = grow(c.y, c.spec.InLen())
	c.dx = grow(c.dx, c.spec.OutLen())
	c.cols = grow(c.cols, c.spec.ColsLen())
	c.outPlane = in.B * g.InH * g.InW
	return Shape{C: c.Out, B: in.B, H: g.InH, W: g.InW}, nil
}

// Forward implements Layer.
func (c *ConvTranspose2D) Forward(x []float32, _ bool) []float32 {
	checkLen("ConvTranspose2D input", x, c.spec.OutLen())
	c.x = x
	tensor.ConvT(c.y, x, c.Weight.Value, c.cols, c.spec)
	addBias(c.y, c.Bias.Value, c.outPlane)
	return c.y
}

// Backward implements Layer.
func (c *ConvTranspose2D) Backward(dy []float32) []float32 {
	checkLen("ConvTranspose2D output gradient", dy, c.spec.InLen())
	tensor.ConvKernelGrad(c.Weight.Grad, dy, c.x, c.cols, c.spec, 1, 0)
	sumMaps(c.Bias.Grad, dy, c.outPlane)
	tensor.Conv(c.dx, dy, c.Weight.Value, c.cols, c.spec)
	return c.dx
}

// Params implements Layer.
func (c *ConvTranspose2D) Params() []*Param { return []*Param{c.Weight, c.Bias} }

// addBias adds bias[c] to every value of map c (plane values each) of y.
func addBias(y, bias []float32, plane int) {
	tensor.ParallelFor(len(bias), plane, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			b := bias[c]
			m := y[c*plane : (c+1)*plane]
			for i := range m {
				m[i] += b
			}
		}
	})
}

// sumMaps writes into db[c] the sum of map c (plane values) of dy,
// accumulated in float64.
func sumMaps(db, dy []float32, plane int) {
	tensor.ParallelFor(len(db), plane, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var s float64
			for _, v := range dy[c*plane : (c+1)*plane] {
				s += float64(v)
			}
			db[c] = float32(s)
		}
	})
}
