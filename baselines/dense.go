package baselines

import (
	"fmt"
	"math/rand/v2"

	"github.com/convngc/convngc/ngc/tensor"
)

// denseSpec is the convolution that computes a fully connected layer from
// in to out units over a mini-batch of b vectors held unit-major, [in][b]
// and [out][b]: a 1×1 kernel over a map of one row of b pixels. With this
// spec tensor.Conv is y = W·x, tensor.ConvT is x = Wᵀ·y and
// tensor.ConvKernelGrad is dW = y·xᵀ for a weight matrix W of layout
// [out][in], so dense layers run on the same fast kernels as the
// convolutions (one contiguous row per unit, no patch gathering).
func denseSpec(in, out, b int) tensor.ConvSpec {
	return tensor.ConvSpec{
		Geom:  tensor.Geom{InH: 1, InW: b, OutH: 1, OutW: b, K: 1, Stride: 1},
		Batch: 1, InC: in, OutC: out,
	}
}

// Dense is a fully connected layer on feature vectors held unit-major,
// input shape {In, B, 1, 1} and output shape {Out, B, 1, 1} (one "map" of
// the B images per unit, which is the map-major layout of 1×1 maps):
//
//	y = W·x + b
//
// Parameters: "<name>.weight" of shape [Out][In] (PyTorch's Linear layout)
// and "<name>.bias" of shape [Out]. Flatten turns convolutional maps into
// this layout.
type Dense struct {
	In, Out int // input and output units
	// Weight and Bias are the parameters; their Grad is written by Backward.
	Weight, Bias *Param

	spec  tensor.ConvSpec
	x     []float32
	y, dx []float32
	cols  []float32
	b     int
}

// NewDense returns a fully connected layer from in to out units, its
// weights drawn Glorot-uniform from rng and its biases zero.
func NewDense(name string, in, out int, rng *rand.Rand) (*Dense, error) {
	if in <= 0 || out <= 0 {
		return nil, fmt.Errorf("%w: dense %s with %d→%d units", ErrShape, name, in, out)
	}
	d := &Dense{In: in, Out: out,
		Weight: newParam(name+".weight", true, out, in),
		Bias:   newParam(name+".bias", true, out)}
	GlorotUniform(d.Weight.Value, in, out, rng)
	return d, nil
}

// Setup implements Layer.
func (d *Dense) Setup(in Shape) (Shape, error) {
	if err := in.validate(); err != nil {
		return Shape{}, err
	}
	if in.C != d.In || in.H != 1 || in.W != 1 {
		return Shape{}, fmt.Errorf("%w: dense %s takes {%d, B, 1, 1}, got %v", ErrShape, d.Weight.Name, d.In, in)
	}
	d.b = in.B
	d.spec = denseSpec(d.In, d.Out, in.B)
	d.y = grow(d.y, d.spec.OutLen())
	d.dx = grow(d.dx, d.spec.InLen())
	d.cols = grow(d.cols, d.spec.ColsLen())
	return Shape{C: d.Out, B: in.B, H: 1, W: 1}, nil
}

// Forward implements Layer.
func (d *Dense) Forward(x []float32, _ bool) []float32 {
	checkLen("Dense input", x, d.spec.InLen())
	d.x = x
	tensor.Conv(d.y, x, d.Weight.Value, d.cols, d.spec)
	addBias(d.y, d.Bias.Value, d.b)
	return d.y
}

// Backward implements Layer.
func (d *Dense) Backward(dy []float32) []float32 {
	checkLen("Dense output gradient", dy, d.spec.OutLen())
	tensor.ConvKernelGrad(d.Weight.Grad, d.x, dy, d.cols, d.spec, 1, 0)
	sumMaps(d.Bias.Grad, dy, d.b)
	tensor.ConvT(d.dx, dy, d.Weight.Value, d.cols, d.spec)
	return d.dx
}

// Params implements Layer.
func (d *Dense) Params() []*Param { return []*Param{d.Weight, d.Bias} }

// Flatten turns maps {C, B, H, W} into feature vectors {C·H·W, B, 1, 1}
// held unit-major, feature (c, h, w) at index (c·H + h)·W + w: the input of
// Dense.
type Flatten struct {
	in    Shape
	y, dx []float32
}

// Setup implements Layer.
func (f *Flatten) Setup(in Shape) (Shape, error) {
	if err := in.validate(); err != nil {
		return Shape{}, err
	}
	f.in = in
	f.y = grow(f.y, in.Len())
	f.dx = grow(f.dx, in.Len())
	return Shape{C: in.C * in.H * in.W, B: in.B, H: 1, W: 1}, nil
}

// Forward implements Layer.
func (f *Flatten) Forward(x []float32, _ bool) []float32 {
	checkLen("Flatten input", x, f.in.Len())
	// x is [C][B][HW]; y is [C][HW][B]: per map a (B × HW) transpose.
	transposeMaps(f.y, x, f.in.C, f.in.B, f.in.H*f.in.W)
	return f.y
}

// Backward implements Layer.
func (f *Flatten) Backward(dy []float32) []float32 {
	checkLen("Flatten output gradient", dy, f.in.Len())
	transposeMaps(f.dx, dy, f.in.C, f.in.H*f.in.W, f.in.B)
	return f.dx
}

// Params implements Layer: a flatten has none.
func (f *Flatten) Params() []*Param { return nil }

// transposeMaps transposes each of c consecutive rows×cols row-major
// matrices of src into dst (cols×rows each).
func transposeMaps(dst, src []float32, c, rows, cols int) {
	n := rows * cols
	tensor.ParallelFor(c, n, func(lo, hi int) {
		for m := lo; m < hi; m++ {
			s, d := src[m*n:(m+1)*n], dst[m*n:(m+1)*n]
			for r := 0; r < rows; r++ {
				for k, v := range s[r*cols : (r+1)*cols] {
					d[k*rows+r] = v
				}
			}
		}
	})
}
