package safetensors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
)

// hashHeader writes the canonical description of h to d: the part of the
// digest that precedes the data buffer (see the package documentation).
// The metadata entry ChecksumKey is left out; h.Tensors must be in buffer
// order.
func hashHeader(d hash.Hash, h *Header) {
	var buf []byte
	u64 := func(v uint64) { buf = binary.LittleEndian.AppendUint64(buf, v) }
	str := func(s string) { u64(uint64(len(s))); buf = append(buf, s...) }

	keys := make([]string, 0, len(h.Metadata))
	for k := range h.Metadata {
		if k != ChecksumKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	u64(uint64(len(keys)))
	for _, k := range keys {
		str(k)
		str(h.Metadata[k])
	}
	u64(uint64(len(h.Tensors)))
	for _, t := range h.Tensors {
		str(t.Name)
		str(string(t.DType))
		u64(uint64(len(t.Shape)))
		for _, n := range t.Shape {
			u64(uint64(n))
		}
		u64(uint64(t.Begin))
		u64(uint64(t.End))
		if len(buf) >= 1<<16 {
			d.Write(buf)
			buf = buf[:0]
		}
	}
	d.Write(buf)
}

// parseChecksum decodes a stored digest: exactly 64 lowercase hexadecimal
// digits, so that no two spellings of a digest are accepted.
func parseChecksum(s string) ([]byte, error) {
	if len(s) != 2*sha256.Size {
		return nil, fmt.Errorf("%w: %s is %d characters long, want 64 lowercase hexadecimal digits", ErrChecksum, ChecksumKey, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, fmt.Errorf("%w: %s has %q at position %d, want lowercase hexadecimal digits", ErrChecksum, ChecksumKey, c, i)
		}
	}
	sum, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrChecksum, ChecksumKey, err)
	}
	return sum, nil
}
