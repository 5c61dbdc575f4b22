//go:build !amd64 || purego

package tensor

const (
	hasKernel     = false
	hasAVX512Peak = false
)

func kern6x16(k, off, rows int, a *float32, bp, cp **float32) {
	panic("tensor: no assembly micro-kernel on this platform")
}

func fmaLoopAVX2(n int, a, b float32) float32 {
	panic("tensor: no assembly FMA loop on this platform")
}

func fmaLoopAVX512(n int, a, b float32) float32 {
	panic("tensor: no assembly FMA loop on this platform")
}
