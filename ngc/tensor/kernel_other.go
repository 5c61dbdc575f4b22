//go:build !amd64 || purego

package tensor

const hasKernel = false

func kern6x16(k, ldb, ldc, rows int, a, b, c *float32) {
	panic("tensor: no assembly micro-kernel on this platform")
}
