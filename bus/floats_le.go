//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package bus

import "unsafe"

// On little-endian hosts a []float32 already has the wire layout of a
// payload, so conversions are single memory copies and a received buffer
// can become a payload without any copy.

// nativeLittleEndian reports whether this file's fast paths are compiled in.
const nativeLittleEndian = true

// floatBytes returns the memory of p as bytes (4 per float, little-endian).
func floatBytes(p []float32) []byte {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(p))), 4*len(p))
}

// putFloats writes src to dst as little-endian float32s; len(dst) must be
// at least 4·len(src).
func putFloats(dst []byte, src []float32) { copy(dst, floatBytes(src)) }

// getFloats reads len(dst) little-endian float32s from src.
func getFloats(dst []float32, src []byte) { copy(floatBytes(dst), src[:4*len(dst)]) }

// floatsIn returns b (whose length must be a multiple of 4) viewed as
// float32s without copying, or ok false when b does not start on a 4-byte
// boundary and so cannot hold float32s.
func floatsIn(b []byte) (p []float32, ok bool) {
	if len(b) == 0 {
		return nil, true
	}
	ptr := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(ptr)%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(ptr), len(b)/4), true
}

// misalignment returns how many bytes b[0] lies past the previous 4-byte
// boundary.
func misalignment(b []byte) int {
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % 4)
}
