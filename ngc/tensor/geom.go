package tensor

import (
	"errors"
	"fmt"
)

// ErrShape reports sizes that do not describe a valid convolution.
var ErrShape = errors.New("tensor: invalid shape")

// Geom is the geometry of a 2-D strided convolution from a large map of
// InH×InW pixels to a small map of OutH×OutW pixels with a square K×K kernel.
// Input pixel (iy, ix) under output pixel (oy, ox) and tap (ty, tx) is
// (oy·Stride + ty − PadTop, ox·Stride + tx − PadLeft); pixels outside the
// input read as zero.
type Geom struct {
	InH, InW   int // size of the large map (convolution input, transposed-convolution output)
	OutH, OutW int // size of the small map
	K          int // kernel height and width
	Stride     int
	PadTop     int // zero rows before the input
	PadLeft    int // zero columns before the input
}

// SameGeom returns the TensorFlow/ngc-learn "SAME" geometry for an input of
// inH×inW pixels: the output has ceil(in/stride) pixels per side and the
// total padding max((out−1)·stride + k − in, 0) is split with the smaller
// half before. For stride 2, k = 3 and an even size n this pads 0 before and
// 1 after and gives n/2.
func SameGeom(inH, inW, k, stride int) (Geom, error) {
	if inH <= 0 || inW <= 0 || k <= 0 || stride <= 0 {
		return Geom{}, fmt.Errorf("%w: same geometry for %d×%d input, kernel %d, stride %d", ErrShape, inH, inW, k, stride)
	}
	outH := (inH + stride - 1) / stride
	outW := (inW + stride - 1) / stride
	padH := max((outH-1)*stride+k-inH, 0)
	padW := max((outW-1)*stride+k-inW, 0)
	return Geom{InH: inH, InW: inW, OutH: outH, OutW: outW, K: k, Stride: stride, PadTop: padH / 2, PadLeft: padW / 2}, nil
}

// Validate reports whether g describes a usable geometry.
func (g Geom) Validate() error {
	if g.InH <= 0 || g.InW <= 0 || g.OutH <= 0 || g.OutW <= 0 || g.K <= 0 || g.Stride <= 0 || g.PadTop < 0 || g.PadLeft < 0 {
		return fmt.Errorf("%w: %+v", ErrShape, g)
	}
	return nil
}

// ConvSpec is a batched multi-channel convolution: InC maps of the large size
// and OutC maps of the small size, for Batch images, in the [C][B][H][W]
// layout. Flip reads kernel taps rotated by 180°.
type ConvSpec struct {
	Geom
	Batch int
	InC   int // maps on the large side
	OutC  int // maps on the small side
	Flip  bool
}

// Validate reports whether s is usable.
func (s ConvSpec) Validate() error {
	if err := s.Geom.Validate(); err != nil {
		return err
	}
	if s.Batch <= 0 || s.InC <= 0 || s.OutC <= 0 {
		return fmt.Errorf("%w: batch %d, in %d, out %d channels", ErrShape, s.Batch, s.InC, s.OutC)
	}
	return nil
}

// InLen is the length of the large-side slice, InC·Batch·InH·InW.
func (s ConvSpec) InLen() int { return s.InC * s.Batch * s.InH * s.InW }

// OutLen is the length of the small-side slice, OutC·Batch·OutH·OutW.
func (s ConvSpec) OutLen() int { return s.OutC * s.Batch * s.OutH * s.OutW }

// KernelLen is the number of kernel weights, OutC·InC·K·K.
func (s ConvSpec) KernelLen() int { return s.OutC * s.InC * s.K * s.K }

// ColsLen is the length of the im2col scratch matrix, InC·K·K·Batch·OutH·OutW.
func (s ConvSpec) ColsLen() int { return s.InC * s.K * s.K * s.Batch * s.OutH * s.OutW }

// MACs is the number of multiply-accumulates of one Conv (or ConvT, or
// ConvKernelGrad) with this spec: one per kernel tap per small-side pixel per
// map pair, padding taps included.
func (s ConvSpec) MACs() int64 {
	return int64(s.OutC) * int64(s.InC) * int64(s.K*s.K) * int64(s.Batch*s.OutH*s.OutW)
}
