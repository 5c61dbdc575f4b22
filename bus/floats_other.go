//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package bus

// Portable conversions for big-endian (and unlisted) hosts: every float is
// converted on its own, and received buffers are never aliased.

// nativeLittleEndian reports whether the little-endian fast paths are
// compiled in.
const nativeLittleEndian = false

// floatBytes is never called on these hosts (nativeLittleEndian is false).
func floatBytes([]float32) []byte { panic("bus: floatBytes on a big-endian host") }

// putFloats writes src to dst as little-endian float32s; len(dst) must be
// at least 4·len(src).
func putFloats(dst []byte, src []float32) { putFloatsPortable(dst, src) }

// getFloats reads len(dst) little-endian float32s from src.
func getFloats(dst []float32, src []byte) { getFloatsPortable(dst, src) }

// floatsIn always reports false: bytes in wire order are not native floats.
func floatsIn([]byte) ([]float32, bool) { return nil, false }

// misalignment is 0: nothing is aliased on these hosts.
func misalignment([]byte) int { return 0 }
