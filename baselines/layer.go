package baselines

import (
	"errors"
	"fmt"
)

// ErrShape reports a layer input whose shape the layer cannot take, or
// sizes that do not describe a layer.
var ErrShape = errors.New("baselines: invalid shape")

// Shape is the shape of a map-major activation tensor [C][B][H][W]: C maps,
// each holding the B×H×W values of the whole mini-batch contiguously (the
// layout of package tensor). A vector of C features per image is the shape
// {C, B, 1, 1}.
type Shape struct {
	C, B, H, W int // maps, images, rows, columns
}

// Len returns C·B·H·W, the length of a slice of this shape.
func (s Shape) Len() int { return s.C * s.B * s.H * s.W }

// Plane returns B·H·W, the length of one map of the mini-batch.
func (s Shape) Plane() int { return s.B * s.H * s.W }

// String formats s as C×B×H×W.
func (s Shape) String() string { return fmt.Sprintf("%d×%d×%d×%d", s.C, s.B, s.H, s.W) }

func (s Shape) validate() error {
	if s.C <= 0 || s.B <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("%w: %v", ErrShape, s)
	}
	return nil
}

// Param is one named parameter tensor of a layer. Value holds the values
// row-major in the order Shape gives; Grad, of the same length, receives the
// gradient of the loss from Backward. Grad is nil for a non-trainable
// tensor (a batch-norm running statistic), which a checkpoint stores but no
// optimiser moves.
type Param struct {
	Name  string    // unique within a model, the tensor's name in checkpoints
	Shape []int     // dimensions, outermost first
	Value []float32 // the values
	Grad  []float32 // the gradient of the loss; nil when not trainable
}

func newParam(name string, trainable bool, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	p := &Param{Name: name, Shape: shape, Value: make([]float32, n)}
	if trainable {
		p.Grad = make([]float32, n)
	}
	return p
}

// Layer is one differentiable stage of a backprop network over map-major
// tensors.
//
// Setup fixes the input shape (mini-batch size included), allocates the
// layer's buffers and returns the output shape; it must be called again
// when the shape changes. Forward returns the output for input x, in a
// buffer the layer owns and overwrites on the next Forward; train selects
// training behaviour (batch statistics in batch norm). The layer keeps a
// reference to x: the caller must leave x unchanged until Backward. Backward
// takes the gradient of the loss with respect to the last Forward's output,
// overwrites the Grad of every trainable parameter with the gradient of the
// loss with respect to it, and returns the gradient with respect to x, in a
// buffer the layer owns.
//
// Like the kernels of package tensor, Forward and Backward panic when a
// slice's length does not match the shape given to Setup: that is a
// programming error, while Setup reports an unusable shape as an error.
type Layer interface {
	Setup(in Shape) (Shape, error)
	Forward(x []float32, train bool) []float32
	Backward(dy []float32) []float32
	// Params returns the layer's trainable parameters.
	Params() []*Param
}

// Stateful is implemented by layers that hold non-trainable tensors which a
// checkpoint must keep (the running statistics of BatchNorm).
type Stateful interface {
	State() []*Param
}

func checkLen(what string, s []float32, n int) {
	if len(s) != n {
		panic(fmt.Sprintf("baselines: %s has %d values, want %d", what, len(s), n))
	}
}

// grow returns buf resized to n values, reusing its storage when it is large
// enough. The contents are unspecified.
func grow(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n)
}

// Sequential chains layers: the output of each is the input of the next.
type Sequential struct {
	Layers []Layer // in order from input to output

	in, out Shape
	ready   bool
}

// NewSequential returns the chain of the given layers.
func NewSequential(layers ...Layer) *Sequential {
	return &Sequential{Layers: layers}
}

// Setup implements Layer. It is cheap when in equals the shape of the last
// successful Setup.
func (s *Sequential) Setup(in Shape) (Shape, error) {
	if s.ready && in == s.in {
		return s.out, nil
	}
	s.ready = false
	if err := in.validate(); err != nil {
		return Shape{}, err
	}
	sh := in
	for i, l := range s.Layers {
		next, err := l.Setup(sh)
		if err != nil {
			return Shape{}, fmt.Errorf("baselines: layer %d (%T) on input %v: %w", i, l, sh, err)
		}
		sh = next
	}
	s.in, s.out, s.ready = in, sh, true
	return sh, nil
}

// Forward implements Layer.
func (s *Sequential) Forward(x []float32, train bool) []float32 {
	for _, l := range s.Layers {
		x = l.Forward(x, train)
	}
	return x
}

// Backward implements Layer.
func (s *Sequential) Backward(dy []float32) []float32 {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// Params implements Layer: the parameters of every layer in order.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// State implements Stateful: the non-trainable tensors of every layer.
func (s *Sequential) State() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		if st, ok := l.(Stateful); ok {
			ps = append(ps, st.State()...)
		}
	}
	return ps
}
