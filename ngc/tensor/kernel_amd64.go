//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// hasKernel reports whether the AVX2/FMA micro-kernel can run here.
var hasKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kern6x16 computes one 6×16 tile of C = A·B in registers (see the assembly).
//
//go:noescape
func kern6x16(k, off, rows int, a *float32, bp, cp **float32)
