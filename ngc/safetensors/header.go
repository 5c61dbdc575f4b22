package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// parseHeader decodes and validates the JSON header b. It returns the header
// with its tensors in buffer order and the length of the data buffer that the
// header describes. Every error wraps ErrCorrupt or ErrDType.
func parseHeader(b []byte) (*Header, int64, error) {
	if !utf8.Valid(b) {
		return nil, 0, fmt.Errorf("%w: header is not valid UTF-8", ErrCorrupt)
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, 0, fmt.Errorf("%w: header does not start with '{'", ErrCorrupt)
	}
	h := &Header{Metadata: map[string]string{}}
	dec := json.NewDecoder(bytes.NewReader(b))
	seen := make(map[string]bool)
	err := decodeObject(dec, func(key string) error {
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			return decodeMetadata(dec, h.Metadata)
		}
		t, err := decodeTensorInfo(dec, key)
		if err != nil {
			return err
		}
		h.Tensors = append(h.Tensors, t)
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrDType) {
			return nil, 0, err
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, fmt.Errorf("%w: header: JSON ends early", ErrCorrupt)
		}
		return nil, 0, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	// Only whitespace (the reference pads with spaces) may follow.
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, 0, fmt.Errorf("%w: header: after the object: %v", ErrCorrupt, err)
		}
		return nil, 0, fmt.Errorf("%w: header: unexpected %s after the object", ErrCorrupt, describe(tok))
	}
	size, err := h.layout()
	if err != nil {
		return nil, 0, err
	}
	return h, size, nil
}

// layout sorts h.Tensors into buffer order (by offsets, keeping the header
// order among equal offsets), checks that the tensors tile the buffer
// exactly, and returns the buffer length.
func (h *Header) layout() (int64, error) {
	slices.SortStableFunc(h.Tensors, func(a, b TensorInfo) int {
		if a.Begin != b.Begin {
			return cmpInt64(a.Begin, b.Begin)
		}
		return cmpInt64(a.End, b.End)
	})
	var end int64
	for _, t := range h.Tensors {
		switch {
		case t.Begin > end:
			return 0, fmt.Errorf("%w: tensor %q starts at byte %d, leaving a gap after byte %d", ErrCorrupt, t.Name, t.Begin, end)
		case t.Begin < end:
			return 0, fmt.Errorf("%w: tensor %q starts at byte %d, overlapping data that ends at byte %d", ErrCorrupt, t.Name, t.Begin, end)
		}
		end = t.End
	}
	return end, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decodeObject reads a JSON object from dec, calling field for each key; field
// must consume the value.
func decodeObject(dec *json.Decoder, field func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("found %s where an object was expected", describe(tok))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("found %s where a key was expected", describe(tok))
		}
		if err := field(key); err != nil {
			return err
		}
	}
	tok, err = dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '}' {
		return fmt.Errorf("found %s where '}' was expected", describe(tok))
	}
	return nil
}

// decodeRaw reads the next JSON value and checks that it starts with the
// given byte (a '"' for a string, a '[' for an array, ...).
func decodeRaw(dec *json.Decoder, first byte, what string) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 || raw[0] != first {
		return nil, fmt.Errorf("found %s where %s was expected", clip(raw), what)
	}
	return raw, nil
}

func decodeString(dec *json.Decoder) (string, error) {
	raw, err := decodeRaw(dec, '"', "a string")
	if err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// decodeMetadata reads the "__metadata__" object (or null) into m.
func decodeMetadata(dec *json.Decoder, m map[string]string) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if string(raw) == "null" {
		return nil
	}
	sub := json.NewDecoder(bytes.NewReader(raw))
	return decodeObject(sub, func(key string) error {
		if _, dup := m[key]; dup {
			return fmt.Errorf("__metadata__: duplicate key %q", key)
		}
		v, err := decodeString(sub)
		if err != nil {
			return fmt.Errorf("__metadata__ %q: %v", key, err)
		}
		m[key] = v
		return nil
	})
}

// decodeTensorInfo reads one tensor entry and checks it on its own: known
// dtype, non-negative dimensions, offsets consistent with the shape.
func decodeTensorInfo(dec *json.Decoder, name string) (TensorInfo, error) {
	t := TensorInfo{Name: name}
	var haveDType, haveShape, haveOffsets bool
	seen := make(map[string]bool, 3)
	err := decodeObject(dec, func(key string) error {
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "dtype":
			s, err := decodeString(dec)
			if err != nil {
				return fmt.Errorf("dtype: %v", err)
			}
			t.DType, haveDType = DType(s), true
		case "shape":
			dims, err := decodeUints(dec)
			if err != nil {
				return fmt.Errorf("shape: %v", err)
			}
			t.Shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return fmt.Errorf("shape: dimension %d too large", d)
				}
				t.Shape[i] = int(d)
			}
			haveShape = true
		case "data_offsets":
			offs, err := decodeUints(dec)
			if err != nil {
				return fmt.Errorf("data_offsets: %v", err)
			}
			if len(offs) != 2 {
				return fmt.Errorf("data_offsets: %d values, want 2", len(offs))
			}
			if offs[0] > offs[1] || offs[1] > math.MaxInt64 {
				return fmt.Errorf("data_offsets: invalid range [%d, %d]", offs[0], offs[1])
			}
			t.Begin, t.End, haveOffsets = int64(offs[0]), int64(offs[1]), true
		default: // the reference ignores unknown fields; so do we
			var skip json.RawMessage
			return dec.Decode(&skip)
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("tensor %q: %w", name, err)
	}
	switch {
	case !haveDType:
		return t, fmt.Errorf("tensor %q: no dtype", name)
	case !haveShape:
		return t, fmt.Errorf("tensor %q: no shape", name)
	case !haveOffsets:
		return t, fmt.Errorf("tensor %q: no data_offsets", name)
	}
	size := t.DType.Size()
	if size == 0 {
		return t, fmt.Errorf("%w %q in tensor %q", ErrDType, clipString(string(t.DType)), name)
	}
	n, ok := byteSize(t.Shape, size)
	if !ok {
		return t, fmt.Errorf("tensor %q: shape %v overflows", name, t.Shape)
	}
	if n != t.End-t.Begin {
		return t, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, data_offsets [%d, %d] hold %d",
			name, t.Shape, t.DType, n, t.Begin, t.End, t.End-t.Begin)
	}
	return t, nil
}

// decodeUints reads a JSON array of non-negative integers.
func decodeUints(dec *json.Decoder) ([]uint64, error) {
	raw, err := decodeRaw(dec, '[', "an array")
	if err != nil {
		return nil, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	out := make([]uint64, len(elems))
	for i, e := range elems {
		v, err := strconv.ParseUint(string(e), 10, 64)
		if err != nil {
			if _, ierr := strconv.ParseInt(string(e), 10, 64); ierr == nil {
				return nil, fmt.Errorf("negative value %s", e)
			}
			return nil, fmt.Errorf("%s is not a non-negative integer", clip(e))
		}
		out[i] = v
	}
	return out, nil
}

// byteSize returns the number of bytes of a tensor of the given shape and
// element size, and false if the count of elements times size overflows
// an int or an int64 (checked at every step, as the reference does).
func byteSize(shape []int, size int) (int64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		n = lo
	}
	hi, lo := bits.Mul64(n, uint64(size))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return "'" + v.String() + "'"
	case string:
		return strconv.Quote(clipString(v))
	}
	return fmt.Sprint(tok)
}

// clip shortens a JSON fragment for an error message.
func clip(raw []byte) string { return clipString(string(raw)) }

func clipString(s string) string {
	const max = 32
	if len(s) <= max {
		return s
	}
	// Cut on a rune boundary so that the message stays valid UTF-8.
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
