//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// hasKernel reports whether the AVX2/FMA micro-kernel can run here.
var hasKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX512Peak reports whether the 512-bit FMA peak loop can run here.
var hasAVX512Peak = cpu.X86.HasAVX512F

// kern6x16 computes one 6×16 tile of C = A·B in registers (see the assembly).
//
//go:noescape
func kern6x16(k, off, rows int, a *float32, bp, cp **float32)

// fmaLoopAVX2 runs n iterations of 14 independent 256-bit FMA chains.
func fmaLoopAVX2(n int, a, b float32) float32

// fmaLoopAVX512 runs n iterations of 28 independent 512-bit FMA chains.
func fmaLoopAVX512(n int, a, b float32) float32
