package bus

import (
	"fmt"
	"math"
)

// Kind says what a frame carries. It is an open enumeration: the named
// constants are the kinds the runtime uses, and any other value travels
// unchanged.
type Kind uint8

// Frame kinds used by the actor runtime.
const (
	KindState   Kind = 1 // a state map z[ℓ]_i (or φ of it)
	KindError   Kind = 2 // an error map e[ℓ]_j
	KindWeights Kind = 3 // synaptic kernels (weight transport, tied mode)
	KindControl Kind = 4 // coordinator control: start, clamp, stop, ...
	KindOutput  Kind = 5 // a result gathered by the coordinator
	KindProbe   Kind = 6 // an observation (energy, counts, staleness)
)

var kindNames = [...]string{
	KindState:   "state",
	KindError:   "error",
	KindWeights: "weights",
	KindControl: "control",
	KindOutput:  "output",
	KindProbe:   "probe",
}

// String returns the kind's name, or "kind(N)" for unnamed values.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MaxDims is the largest number of dimensions a frame's shape may have.
const MaxDims = 4

// Frame is one message: one feature map of a whole mini-batch plus the
// header that says who sent it, for which run and step, and its shape.
//
// Payload is row-major with the shape's last dimension varying fastest; a
// map of a mini-batch has Shape [B, H, W] and len(Payload) == B·H·W. A frame
// with an empty Shape carries no payload (control frames); otherwise the
// product of Shape must equal len(Payload).
//
// A frame with Delta set is one of a sigma-delta stream: Shape is still the
// whole map's, but Payload holds only the values Delta describes (see
// Delta).
//
// Ownership: a published frame is immutable. Publish takes ownership from
// the publisher, who must not modify or reuse the frame or its slices
// afterwards; every subscriber that receives it may read it but must not
// modify it (the in-process bus hands the same *Frame to all matching
// subscribers). Use Clone to get a private, mutable copy.
type Frame struct {
	Run     string    // run id, the first token of the run's subjects
	Sender  string    // the sending actor, e.g. "z.1.3"
	Kind    Kind      // what the payload is
	Step    uint64    // step (sync mode) or the sender's version (async mode)
	Shape   []int     // at most MaxDims dimensions, each ≥ 0
	Payload []float32 // row-major, product(Shape) floats (or Delta's entries)
	// Delta, when set, makes the frame one of a sigma-delta stream.
	Delta *Delta
}

// Clone returns a deep copy of f that the caller may modify.
func (f *Frame) Clone() *Frame {
	if f == nil {
		return nil
	}
	c := *f
	if f.Shape != nil {
		c.Shape = append([]int(nil), f.Shape...)
	}
	if f.Payload != nil {
		c.Payload = append([]float32(nil), f.Payload...)
	}
	c.Delta = f.Delta.clone()
	return &c
}

// HeaderSize returns the number of bytes of f's encoded header (everything
// but the payload).
func (f *Frame) HeaderSize() int {
	n := fixedHeaderLen + len(f.Run) + len(f.Sender) + 4*len(f.Shape)
	if f.Delta != nil {
		n += deltaHeaderLen
	}
	return n
}

// WireSize returns the size of f encoded without compression: HeaderSize
// plus 4 bytes per float (and, for a sparse delta frame, its index list:
// one varint of 1 to 5 bytes per entry, usually 1). Every bus counts this
// figure as Counts.Bytes, so byte accounting is comparable whether or not
// frames are serialised.
func (f *Frame) WireSize() int {
	if f.Delta != nil {
		return f.HeaderSize() + f.Delta.bodyLen(len(f.Payload))
	}
	return f.HeaderSize() + 4*len(f.Payload)
}

// Validate reports whether f can be sent under lim: sizes within the limits
// (zero fields of lim take their defaults) and a shape that matches the
// payload.
func (f *Frame) Validate(lim Limits) error {
	if f == nil {
		return ErrNilFrame
	}
	lim = lim.withDefaults()
	if len(f.Run) > lim.MaxString {
		return fmt.Errorf("run id of %d bytes, limit %d: %w", len(f.Run), lim.MaxString, ErrFrameTooLarge)
	}
	if len(f.Sender) > lim.MaxString {
		return fmt.Errorf("sender of %d bytes, limit %d: %w", len(f.Sender), lim.MaxString, ErrFrameTooLarge)
	}
	if n := len(f.Payload); n > lim.MaxPayload/4 {
		return fmt.Errorf("payload of %d floats (%d bytes), limit %d bytes: %w", n, 4*int64(n), lim.MaxPayload, ErrFrameTooLarge)
	}
	if f.Delta != nil {
		return f.validateDelta(lim)
	}
	return checkShape(f.Shape, len(f.Payload))
}

// validateDelta checks a delta frame under lim (defaults applied): the map
// its shape describes, its entries against it, and the sizes a decoder
// accepts (see parseHeader).
func (f *Frame) validateDelta(lim Limits) error {
	units, err := shapeUnits(f.Shape, lim.MaxPayload/4)
	if err != nil {
		return err
	}
	d := f.Delta
	if err := d.check(units, len(f.Payload)); err != nil {
		return err
	}
	if d.Sparse && int64(len(f.Payload))*8 > int64(lim.MaxPayload) {
		return fmt.Errorf("sparse delta frame of %d entries, limit %d bytes at 8 per entry: %w", len(f.Payload), lim.MaxPayload, ErrFrameTooLarge)
	}
	if n := d.bodyLen(len(f.Payload)); n > lim.MaxPayload {
		return fmt.Errorf("delta payload of %d bytes, limit %d: %w", n, lim.MaxPayload, ErrFrameTooLarge)
	}
	return nil
}

// shapeUnits returns the product of a delta frame's shape, which must have
// at least one dimension and at most limit units.
func shapeUnits(shape []int, limit int) (int, error) {
	if len(shape) == 0 || len(shape) > MaxDims {
		return 0, fmt.Errorf("delta frame of %d dimensions, want 1 to %d: %w", len(shape), MaxDims, ErrShape)
	}
	prod := 1
	for _, d := range shape {
		if d < 0 || uint64(d) > math.MaxUint32 {
			return 0, fmt.Errorf("shape %v: dimension out of range: %w", shape, ErrShape)
		}
		if d != 0 && prod > limit/d {
			return 0, fmt.Errorf("shape %v exceeds %d units: %w", shape, limit, ErrFrameTooLarge)
		}
		prod *= d
	}
	return prod, nil
}

// checkShape checks dims against n floats without overflowing.
func checkShape(shape []int, n int) error {
	if len(shape) > MaxDims {
		return fmt.Errorf("%d dimensions, at most %d: %w", len(shape), MaxDims, ErrShape)
	}
	if len(shape) == 0 {
		if n != 0 {
			return fmt.Errorf("empty shape with %d floats: %w", n, ErrShape)
		}
		return nil
	}
	prod := 1
	for _, d := range shape {
		if d < 0 || uint64(d) > math.MaxUint32 {
			return fmt.Errorf("shape %v: dimension out of range: %w", shape, ErrShape)
		}
		if d != 0 && prod > n/d {
			// prod·d > n (or would overflow): keep going only to detect a zero.
			prod = n + 1
			continue
		}
		prod *= d
	}
	if prod != n {
		return fmt.Errorf("shape %v holds %s floats, payload has %d: %w", shape, shapeProduct(shape), n, ErrShape)
	}
	return nil
}

// shapeProduct renders the product of shape for error messages, saturating
// instead of overflowing.
func shapeProduct(shape []int) string {
	p := uint64(1)
	for _, d := range shape {
		if d == 0 {
			return "0"
		}
		if p > math.MaxUint64/uint64(d) {
			return "too many"
		}
		p *= uint64(d)
	}
	return fmt.Sprint(p)
}

// Limits bounds what a decoder accepts and what a bus sends. Every declared
// size in a frame is checked against them before anything is allocated.
// A zero field takes its default.
type Limits struct {
	// MaxPayload is the largest uncompressed payload in bytes (4 per float).
	// Default DefaultMaxPayload; values above 2 GiB−1 are capped.
	MaxPayload int
	// MaxString is the largest run id or sender name in bytes. Default
	// DefaultMaxString; values above 65535 are capped (the wire length
	// prefix is 16 bits).
	MaxString int
}

// Default limits.
const (
	DefaultMaxPayload = 64 << 20 // 64 MiB: 32× a 500×32×32 map
	DefaultMaxString  = 255
)

func (l Limits) withDefaults() Limits {
	if l.MaxPayload <= 0 {
		l.MaxPayload = DefaultMaxPayload
	}
	if int64(l.MaxPayload) > math.MaxInt32 {
		l.MaxPayload = math.MaxInt32
	}
	if l.MaxString <= 0 {
		l.MaxString = DefaultMaxString
	}
	if l.MaxString > math.MaxUint16 {
		l.MaxString = math.MaxUint16
	}
	return l
}

// MaxFrameSize returns the largest encoded frame a decoder accepts under l:
// the largest header plus MaxPayload (stored payloads are never larger than
// the uncompressed one).
func (l Limits) MaxFrameSize() int {
	l = l.withDefaults()
	return fixedHeaderLen + deltaHeaderLen + 2*l.MaxString + 4*MaxDims + l.MaxPayload
}
