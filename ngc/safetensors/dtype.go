package safetensors

import (
	"encoding/binary"
	"math"
	"slices"
)

// DType is an element type as spelled in a safetensors header ("F32",
// "BF16", ...).
type DType string

// The element types this package decodes. [Write] always stores [F32].
const (
	Bool DType = "BOOL" // one byte, 0 is false, anything else true
	U8   DType = "U8"   // unsigned 8-bit integer
	I8   DType = "I8"   // signed 8-bit integer
	U16  DType = "U16"  // unsigned 16-bit integer
	I16  DType = "I16"  // signed 16-bit integer
	F16  DType = "F16"  // IEEE 754 binary16
	BF16 DType = "BF16" // bfloat16: the upper half of a binary32
	U32  DType = "U32"  // unsigned 32-bit integer
	I32  DType = "I32"  // signed 32-bit integer
	F32  DType = "F32"  // IEEE 754 binary32
	U64  DType = "U64"  // unsigned 64-bit integer
	I64  DType = "I64"  // signed 64-bit integer
	F64  DType = "F64"  // IEEE 754 binary64
)

// Size returns the number of bytes of one element, or 0 if d is not one of
// the types this package decodes.
func (d DType) Size() int {
	switch d {
	case Bool, U8, I8:
		return 1
	case U16, I16, F16, BF16:
		return 2
	case U32, I32, F32:
		return 4
	case U64, I64, F64:
		return 8
	}
	return 0
}

// appendFloat32s decodes the little-endian elements of type d in src, whose
// length is a multiple of d.Size(), and appends them to dst as float32.
//
// F32 is copied bit for bit (NaN payloads included); BOOL, U8, I8, U16,
// I16, F16 and BF16 convert exactly; F64 and the 32- and 64-bit integers
// are rounded to the nearest float32.
func appendFloat32s(dst []float32, src []byte, d DType) []float32 {
	size := d.Size()
	if size == 0 {
		return dst
	}
	n := len(src) / size
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	le := binary.LittleEndian
	switch d {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(src[4*i : 4*i+4]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = float16to32(le.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(src[2*i:])) << 16)
		}
	case Bool:
		for i := range out {
			out[i] = 0
			if src[i] != 0 {
				out[i] = 1
			}
		}
	case U8:
		for i := range out {
			out[i] = float32(src[i])
		}
	case I8:
		for i := range out {
			out[i] = float32(int8(src[i]))
		}
	case U16:
		for i := range out {
			out[i] = float32(le.Uint16(src[2*i:]))
		}
	case I16:
		for i := range out {
			out[i] = float32(int16(le.Uint16(src[2*i:])))
		}
	case U32:
		for i := range out {
			out[i] = float32(le.Uint32(src[4*i:]))
		}
	case I32:
		for i := range out {
			out[i] = float32(int32(le.Uint32(src[4*i:])))
		}
	case U64:
		for i := range out {
			out[i] = float32(le.Uint64(src[8*i:]))
		}
	case I64:
		for i := range out {
			out[i] = float32(int64(le.Uint64(src[8*i:])))
		}
	}
	return dst[:len(dst)+n]
}

// float16to32 converts an IEEE 754 binary16 value to binary32 exactly,
// including subnormals, infinities and NaN payloads.
func float16to32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN: keep the payload
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0 && man == 0: // signed zero
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: man × 2⁻²⁴, a normal binary32
		v := float32(man) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	default: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
	}
}
