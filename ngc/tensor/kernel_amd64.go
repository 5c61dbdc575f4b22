//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// hasKernel reports whether the AVX2/FMA micro-kernel can run here.
var hasKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func kern6x16(k, ldb, ldc, rows int, a, b, c *float32)
