package bus

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Delta makes a frame part of a sigma-delta stream: the sender keeps, per
// unit of a map, the value its receivers last got, and sends only the units
// that moved (see package neuron's Encoding). The frame's Shape is the whole
// map's; its Payload holds the values of the units the frame carries.
//
// A full delta frame (Sparse false) carries every unit's new value, one
// float per unit of Shape, like a plain frame. A sparse one carries the
// units listed in Index, in ascending order, one float each in Payload: the
// unit's change, or, when its index has AbsBit set, its new value (a change
// that a float32 cannot express exactly is sent as the value, so receivers
// always hold exactly what the sender meant).
type Delta struct {
	// Seq numbers the frames of one sender's stream, so that receivers
	// apply them in order and notice a lost one.
	Seq uint32
	// Reset tells receivers to start from zero before applying the frame:
	// the first frame of a window.
	Reset bool
	// Sparse selects the index list; otherwise Payload holds every unit.
	Sparse bool
	// Index lists the units Payload's values are for (Sparse only):
	// ascending positions in the map, each below 2³¹, AbsBit set on a new
	// value.
	Index []uint32
}

// AbsBit marks an entry of Delta.Index whose value is the unit's new value
// rather than its change.
const AbsBit = 1 << 31

// deltaHeaderLen is what a delta frame adds to the header: seq (4), flags
// (1) and the number of entries (4).
const deltaHeaderLen = 4 + 1 + 4

// Delta header flags.
const (
	deltaReset  = 1 << 0
	deltaSparse = 1 << 1
	deltaKnown  = deltaReset | deltaSparse
)

// clone returns a deep copy of d.
func (d *Delta) clone() *Delta {
	if d == nil {
		return nil
	}
	c := *d
	if d.Index != nil {
		c.Index = append([]uint32(nil), d.Index...)
	}
	return &c
}

// bodyLen returns the uncompressed payload bytes of a delta frame of
// entries floats: the index list (sparse) and 4 bytes per float.
func (d *Delta) bodyLen(entries int) int {
	n := 4 * entries
	if d.Sparse {
		prev := -1
		for _, ix := range d.Index {
			u := ix &^ AbsBit
			n += uvarintLen(indexWord(int(u), prev, ix&AbsBit != 0))
			prev = int(u)
		}
	}
	return n
}

// indexWord is the varint an index list stores for unit u after unit prev:
// the gap above prev+1, shifted, with the absolute flag in the low bit.
func indexWord(u, prev int, abs bool) uint64 {
	w := uint64(u-prev-1) << 1
	if abs {
		w |= 1
	}
	return w
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// check reports whether d fits a frame of units floats in its shape and
// entries floats in its payload.
func (d *Delta) check(units, entries int) error {
	if !d.Sparse {
		if len(d.Index) != 0 {
			return fmt.Errorf("full delta frame with an index list: %w", ErrShape)
		}
		if entries != units {
			return fmt.Errorf("full delta frame of %d floats for %d units: %w", entries, units, ErrShape)
		}
		return nil
	}
	if len(d.Index) != entries {
		return fmt.Errorf("sparse delta frame lists %d units for %d floats: %w", len(d.Index), entries, ErrShape)
	}
	prev := -1
	for k, ix := range d.Index {
		u := int(ix &^ AbsBit)
		if u <= prev || u >= units {
			return fmt.Errorf("sparse delta frame: index %d is %d after %d (want ascending, below %d): %w", k, u, prev, units, ErrShape)
		}
		prev = u
	}
	return nil
}

// putBody writes a delta frame's uncompressed payload into dst, which
// has exactly d.bodyLen(len(p)) bytes.
func (d *Delta) putBody(dst []byte, p []float32) {
	if d.Sparse {
		prev := -1
		for _, ix := range d.Index {
			u := int(ix &^ AbsBit)
			dst = dst[binary.PutUvarint(dst, indexWord(u, prev, ix&AbsBit != 0)):]
			prev = u
		}
	}
	putFloats(dst, p)
}

// parseIndex decodes the index list of a sparse body of entries units
// into idx (which has len entries) and returns the bytes after it; every
// unit must lie below units.
func parseIndex(idx []uint32, body []byte, units int) ([]byte, error) {
	prev := -1
	for k := range idx {
		w, n := binary.Uvarint(body)
		if n <= 0 || n != uvarintLen(w) {
			// Overlong encodings are refused too: a frame has one encoding.
			return nil, fmt.Errorf("index %d of %d: bad varint: %w", k, len(idx), ErrCorrupt)
		}
		body = body[n:]
		gap := w >> 1
		if gap >= uint64(units) || prev+1+int(gap) >= units {
			return nil, fmt.Errorf("index %d of %d lies beyond the map's %d units: %w", k, len(idx), units, ErrShape)
		}
		u := prev + 1 + int(gap)
		idx[k] = uint32(u)
		if w&1 != 0 {
			idx[k] |= AbsBit
		}
		prev = u
	}
	return body, nil
}
