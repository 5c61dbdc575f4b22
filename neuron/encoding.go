package neuron

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Message encodings. Every population turns what it sends (φ(z), z, e)
// into what travels, and what it receives back into values, through one
// seam, whatever drives it (the goroutine runner, hwsim's virtual clock, a
// test), so no driver has a copy of its own:
//
//   - Dense sends the whole map every time (Msg.Data).
//   - SigmaDelta sends only the units whose value moved by more than a
//     threshold θ since what the receivers last got (Msg.Delta). The sender
//     keeps, per unit, the value its receivers hold; each receiver keeps the
//     reconstructed value and adds the changes. A receiver that predicts or
//     feeds back through a convolution updates its sums by the changes alone
//     (μ += W ⊛ Δ, fb += E ∗ Δ over the changed units: computation
//     proportional to change), falling back to the whole convolution when
//     most units changed, at the start of every window, and every
//     Encoding.Rebase computations (an exact re-base that bounds the drift
//     of float32 accumulation).
//
// Exactness. A sent unit always arrives exactly: a change that float32
// cannot express (s + (x − s) ≠ x) travels as the new value instead. So
// with θ = 0 every receiver holds exactly what a dense message would have
// carried, every sum is recomputed whole (every unit changed), and a
// synchronous run is bit for bit the dense one. With θ > 0 a receiver's
// value of a unit is within θ of the sender's.
//
// Windows. Both ends start every mini-batch from zero: the first frame of a
// window is a reset, and a sender's frames are numbered (Delta.Seq) so that
// receivers apply them in order, hold early ones, ignore duplicates and
// name a lost one.

// Scheme is how a population's map messages travel.
type Scheme uint8

// The encodings.
const (
	// Dense sends the whole map in every message.
	Dense Scheme = iota
	// SigmaDelta sends the units that moved by more than the threshold.
	SigmaDelta
)

// ErrEncoding reports an encoding that cannot be used.
var ErrEncoding = errors.New("neuron: invalid encoding")

// String names the scheme as the command line does.
func (s Scheme) String() string {
	switch s {
	case Dense:
		return "dense"
	case SigmaDelta:
		return "sigma-delta"
	}
	return fmt.Sprintf("scheme(%d)", int(s))
}

// ParseScheme reads "dense" or "sigma-delta".
func ParseScheme(s string) (Scheme, error) {
	switch strings.ToLower(s) {
	case "dense", "":
		return Dense, nil
	case "sigma-delta", "sigmadelta", "sd":
		return SigmaDelta, nil
	}
	return 0, fmt.Errorf("%w: %q (want dense or sigma-delta)", ErrEncoding, s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Scheme) MarshalText() ([]byte, error) {
	if s != Dense && s != SigmaDelta {
		return nil, fmt.Errorf("%w: scheme %d", ErrEncoding, int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Scheme) UnmarshalText(b []byte) error {
	v, err := ParseScheme(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Encoding configures how populations' map messages travel. The zero
// value is Dense.
type Encoding struct {
	Scheme Scheme `json:"scheme"`
	// Threshold θ ≥ 0 (SigmaDelta): a unit is sent when its value differs
	// from what the receivers hold by more than θ (any difference with θ =
	// 0).
	Threshold float64 `json:"threshold"`
	// Relative makes θ relative to the map's scale: each image's θ is
	// Threshold times the root mean square of that image's map in the
	// message being sent.
	Relative bool `json:"relative,omitempty"`
	// Rebase K > 0 makes receivers recompute their sums whole every K
	// computations of a window; 0 re-bases only at the start of a window.
	Rebase int `json:"rebase,omitempty"`
}

// Validate reports an encoding that cannot be used.
func (e Encoding) Validate() error {
	switch {
	case e.Scheme != Dense && e.Scheme != SigmaDelta:
		return fmt.Errorf("%w: scheme %d", ErrEncoding, int(e.Scheme))
	case math.IsNaN(e.Threshold) || math.IsInf(e.Threshold, 0) || e.Threshold < 0:
		return fmt.Errorf("%w: threshold %g (want a finite θ ≥ 0)", ErrEncoding, e.Threshold)
	case e.Rebase < 0:
		return fmt.Errorf("%w: re-base every %d computations (want 0 or more)", ErrEncoding, e.Rebase)
	case e.Scheme == Dense && (e.Threshold != 0 || e.Relative || e.Rebase != 0):
		return fmt.Errorf("%w: a threshold, a relative threshold and a re-base period need sigma-delta", ErrEncoding)
	}
	return nil
}

// String describes the encoding, e.g. "sigma-delta θ=0.01" or
// "sigma-delta θ=0.05×rms rebase 10".
func (e Encoding) String() string {
	if e.Scheme != SigmaDelta {
		return e.Scheme.String()
	}
	s := fmt.Sprintf("sigma-delta θ=%g", e.Threshold)
	if e.Relative {
		s += "×rms"
	}
	if e.Rebase > 0 {
		s += fmt.Sprintf(" rebase %d", e.Rebase)
	}
	return s
}

// Delta is the payload of a sigma-delta message (Msg.Delta): which units
// of a map of N values changed, and by how much.
//
// Full (Sparse false): Value holds every unit's new value. Sparse: Index
// lists the changed units in ascending order and Value their changes; an
// index with AbsBit set carries the unit's new value instead (a change that
// float32 cannot express exactly). A Delta is immutable once emitted:
// receivers only read it.
type Delta struct {
	N      int      // units of the map
	Seq    uint32   // frame number in the sender's stream
	Reset  bool     // receivers start from zero first (a window's first frame)
	Sparse bool     // Index lists the units Value is for
	Index  []uint32 // ascending units, AbsBit marking a new value
	Value  []float32
}

// AbsBit marks an Index entry whose Value is the unit's new value.
const AbsBit = 1 << 31

// Entries returns the number of values the delta carries.
func (d *Delta) Entries() int { return len(d.Value) }

// Bytes returns the payload bytes of the delta on the wire before
// compression: 4 per value and, when sparse, one varint per index (the gap
// to the previous index, shifted left once, the absolute mark in the low
// bit).
func (d *Delta) Bytes() int {
	n := 4 * len(d.Value)
	if d.Sparse {
		prev := -1
		for _, ix := range d.Index {
			u := int(ix &^ AbsBit)
			n += varintLen(uint64(u-prev-1)<<1 | uint64(ix>>31))
			prev = u
		}
	}
	return n
}

func varintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// Clone returns a deep copy of d.
func (d *Delta) Clone() *Delta {
	if d == nil {
		return nil
	}
	c := *d
	c.Index = append([]uint32(nil), d.Index...)
	c.Value = append([]float32(nil), d.Value...)
	if !d.Sparse {
		c.Index = nil
	}
	return &c
}

// check reports a delta that does not fit a map of n units.
func (d *Delta) check(n int) error {
	if d.N != n {
		return fmt.Errorf("a map of %d values, want %d", d.N, n)
	}
	if !d.Sparse {
		if len(d.Value) != n || len(d.Index) != 0 {
			return fmt.Errorf("a full frame of %d values for %d units", len(d.Value), n)
		}
		return nil
	}
	if len(d.Index) != len(d.Value) {
		return fmt.Errorf("%d indices for %d values", len(d.Index), len(d.Value))
	}
	prev := -1
	for _, ix := range d.Index {
		u := int(ix &^ AbsBit)
		if u <= prev || u >= n {
			return fmt.Errorf("index %d after %d (want ascending, below %d)", u, prev, n)
		}
		prev = u
	}
	return nil
}
