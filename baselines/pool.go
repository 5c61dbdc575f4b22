package baselines

import (
	"fmt"
	"math"

	"github.com/convngc/convngc/ngc/tensor"
)

// MaxPool is max-pooling over Size×Size windows moved by Stride, with
// TensorFlow "SAME" padding: an input of H×W pixels gives ⌈H/S⌉×⌈W/S⌉, and
// windows that reach into the padding take the maximum of their pixels
// inside the map. The gradient flows to the pixel that was the maximum (the
// first one, in row-major order, on ties).
type MaxPool struct {
	Size, Stride int // window side and stride

	in, out Shape
	padTop  int
	padLeft int
	arg     []int32 // index in the input plane of each output's maximum
	y, dx   []float32
}

// NewMaxPool returns a max-pool with size×size windows and the given
// stride; the paper's baselines use 2×2 windows with stride 2.
func NewMaxPool(size, stride int) (*MaxPool, error) {
	if size <= 0 || stride <= 0 {
		return nil, fmt.Errorf("%w: max-pool of size %d, stride %d", ErrShape, size, stride)
	}
	return &MaxPool{Size: size, Stride: stride}, nil
}

// Setup implements Layer.
func (mp *MaxPool) Setup(in Shape) (Shape, error) {
	if err := in.validate(); err != nil {
		return Shape{}, err
	}
	g, err := tensor.SameGeom(in.H, in.W, mp.Size, mp.Stride)
	if err != nil {
		return Shape{}, fmt.Errorf("%w: %v", ErrShape, err)
	}
	mp.in = in
	mp.out = Shape{C: in.C, B: in.B, H: g.OutH, W: g.OutW}
	mp.padTop, mp.padLeft = g.PadTop, g.PadLeft
	n := mp.out.Len()
	if cap(mp.arg) >= n {
		mp.arg = mp.arg[:n]
	} else {
		mp.arg = make([]int32, n)
	}
	mp.y = grow(mp.y, n)
	mp.dx = grow(mp.dx, in.Len())
	return mp.out, nil
}

// Forward implements Layer.
func (mp *MaxPool) Forward(x []float32, _ bool) []float32 {
	checkLen("MaxPool input", x, mp.in.Len())
	in, out := mp.in, mp.out
	inPlane, outPlane := in.H*in.W, out.H*out.W
	images := in.C * in.B
	tensor.ParallelFor(images, inPlane, func(lo, hi int) {
		for im := lo; im < hi; im++ {
			xi := x[im*inPlane : (im+1)*inPlane]
			yi := mp.y[im*outPlane : (im+1)*outPlane]
			ai := mp.arg[im*outPlane : (im+1)*outPlane]
			for oy := 0; oy < out.H; oy++ {
				y0 := oy*mp.Stride - mp.padTop
				for ox := 0; ox < out.W; ox++ {
					x0 := ox*mp.Stride - mp.padLeft
					best, at := float32(math.Inf(-1)), int32(-1)
					for iy := max(y0, 0); iy < min(y0+mp.Size, in.H); iy++ {
						for ix := max(x0, 0); ix < min(x0+mp.Size, in.W); ix++ {
							if v := xi[iy*in.W+ix]; at < 0 || v > best {
								best, at = v, int32(iy*in.W+ix)
							}
						}
					}
					yi[oy*out.W+ox] = best
					ai[oy*out.W+ox] = at
				}
			}
		}
	})
	return mp.y
}

// Backward implements Layer.
func (mp *MaxPool) Backward(dy []float32) []float32 {
	checkLen("MaxPool output gradient", dy, mp.out.Len())
	inPlane, outPlane := mp.in.H*mp.in.W, mp.out.H*mp.out.W
	tensor.ParallelFor(mp.in.C*mp.in.B, inPlane, func(lo, hi int) {
		for im := lo; im < hi; im++ {
			dxi := mp.dx[im*inPlane : (im+1)*inPlane]
			clear(dxi)
			ai := mp.arg[im*outPlane : (im+1)*outPlane]
			for o, d := range dy[im*outPlane : (im+1)*outPlane] {
				dxi[ai[o]] += d
			}
		}
	})
	return mp.dx
}

// Params implements Layer: a max-pool has none.
func (mp *MaxPool) Params() []*Param { return nil }
