//go:build !amd64 || purego

package tensor

const hasKernel = false

func kern6x16(k, off, rows int, a *float32, bp, cp **float32) {
	panic("tensor: no assembly micro-kernel on this platform")
}
