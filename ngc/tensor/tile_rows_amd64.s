//go:build !purego

#include "textflag.h"

// Row helpers of the tile engine (see rows.go for their definitions in Go).
// n is a multiple of 16 and at least 16. Every operation rounds as the Go
// definition does: no multiply-add is fused.

// func biasErrZ(mu, e, z *float32, n int, b float32) float32
TEXT ·biasErrZ(SB), NOSPLIT, $0-44
	MOVQ mu+0(FP), SI
	MOVQ e+8(FP), DI
	MOVQ z+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS b+32(FP), Z1
	VXORPS Z0, Z0, Z0
	SHRQ $4, CX
biaserrz_loop:
	VADDPS (SI), Z1, Z2
	VMOVUPS Z2, (SI)
	VMOVUPS (DX), Z3
	VSUBPS Z2, Z3, Z3
	VMOVUPS Z3, (DI)
	VMULPS Z3, Z3, Z3
	VADDPS Z3, Z0, Z0
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ biaserrz_loop
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+40(FP)
	VZEROUPPER
	RET

// func biasErrY(mu, e, z *float32, n int, b float32) float32
TEXT ·biasErrY(SB), NOSPLIT, $0-44
	MOVQ mu+0(FP), SI
	MOVQ e+8(FP), DI
	MOVQ z+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS b+32(FP), Y1
	VXORPS Y0, Y0, Y0
	SHRQ $3, CX
biaserry_loop:
	VADDPS (SI), Y1, Y2
	VMOVUPS Y2, (SI)
	VMOVUPS (DX), Y3
	VSUBPS Y2, Y3, Y3
	VMOVUPS Y3, (DI)
	VMULPS Y3, Y3, Y3
	VADDPS Y3, Y0, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNZ biaserry_loop
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+40(FP)
	VZEROUPPER
	RET

// func correctPhiZ(z, e, fb, phi *float32, n int, keep, beta, slope float32)
TEXT ·correctPhiZ(SB), NOSPLIT, $0-52
	MOVQ z+0(FP), SI
	MOVQ e+8(FP), DI
	MOVQ fb+16(FP), DX
	MOVQ phi+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS keep+40(FP), Z1
	VBROADCASTSS beta+44(FP), Z2
	VBROADCASTSS slope+48(FP), Z3
	SHRQ $4, CX
correctz_loop:
	VMOVUPS (DX), Z4
	VSUBPS (DI), Z4, Z4
	VMULPS Z2, Z4, Z4
	VMULPS (SI), Z1, Z5
	VADDPS Z4, Z5, Z5
	VMOVUPS Z5, (SI)
	VMULPS Z3, Z5, Z6
	VMAXPS Z6, Z5, Z6
	VMOVUPS Z6, (R8)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ CX
	JNZ correctz_loop
	VZEROUPPER
	RET

// func correctPhiY(z, e, fb, phi *float32, n int, keep, beta, slope float32)
TEXT ·correctPhiY(SB), NOSPLIT, $0-52
	MOVQ z+0(FP), SI
	MOVQ e+8(FP), DI
	MOVQ fb+16(FP), DX
	MOVQ phi+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS keep+40(FP), Y1
	VBROADCASTSS beta+44(FP), Y2
	VBROADCASTSS slope+48(FP), Y3
	SHRQ $3, CX
correcty_loop:
	VMOVUPS (DX), Y4
	VSUBPS (DI), Y4, Y4
	VMULPS Y2, Y4, Y4
	VMULPS (SI), Y1, Y5
	VADDPS Y4, Y5, Y5
	VMOVUPS Y5, (SI)
	VMULPS Y3, Y5, Y6
	VMAXPS Y6, Y5, Y6
	VMOVUPS Y6, (R8)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ correcty_loop
	VZEROUPPER
	RET

// func leakyZ(dst, src *float32, n int, slope float32)
TEXT ·leakyZ(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS slope+24(FP), Z3
	SHRQ $4, CX
leakyz_loop:
	VMOVUPS (SI), Z5
	VMULPS Z3, Z5, Z6
	VMAXPS Z6, Z5, Z6
	VMOVUPS Z6, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ leakyz_loop
	VZEROUPPER
	RET

// func leakyY(dst, src *float32, n int, slope float32)
TEXT ·leakyY(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS slope+24(FP), Y3
	SHRQ $3, CX
leakyy_loop:
	VMOVUPS (SI), Y5
	VMULPS Y3, Y5, Y6
	VMAXPS Y6, Y5, Y6
	VMOVUPS Y6, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ leakyy_loop
	VZEROUPPER
	RET

// Multi-map versions: rows maps of n floats each; map r of every operand
// starts r·stride bytes after its first (a stride of 0 repeats one row).

// func biasErrMapsZ(mu *float32, muS int, e *float32, eS int, z *float32, zS int, n, rows int, bias *float32) float32
TEXT ·biasErrMapsZ(SB), NOSPLIT, $0-76
	MOVQ mu+0(FP), SI
	MOVQ e+16(FP), DI
	MOVQ z+32(FP), DX
	MOVQ rows+56(FP), R9
	MOVQ bias+64(FP), R10
	VXORPS Z0, Z0, Z0
bemz_map:
	MOVQ n+48(FP), CX
	SHRQ $4, CX
	VBROADCASTSS (R10), Z1
	XORQ R8, R8
bemz_loop:
	VADDPS (SI)(R8*1), Z1, Z2
	VMOVUPS Z2, (SI)(R8*1)
	VMOVUPS (DX)(R8*1), Z3
	VSUBPS Z2, Z3, Z3
	VMOVUPS Z3, (DI)(R8*1)
	VMULPS Z3, Z3, Z3
	VADDPS Z3, Z0, Z0
	ADDQ $64, R8
	DECQ CX
	JNZ bemz_loop
	ADDQ muS+8(FP), SI
	ADDQ eS+24(FP), DI
	ADDQ zS+40(FP), DX
	ADDQ $4, R10
	DECQ R9
	JNZ bemz_map
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+72(FP)
	VZEROUPPER
	RET

// func correctMapsZ(z *float32, zS int, e *float32, eS int, fb *float32, fbS int, phi *float32, phiS int, n, rows int, keep, beta, slope float32)
TEXT ·correctMapsZ(SB), NOSPLIT, $0-92
	MOVQ z+0(FP), SI
	MOVQ e+16(FP), DI
	MOVQ fb+32(FP), DX
	MOVQ phi+48(FP), R11
	MOVQ rows+72(FP), R9
	VBROADCASTSS keep+80(FP), Z1
	VBROADCASTSS beta+84(FP), Z2
	VBROADCASTSS slope+88(FP), Z3
cmz_map:
	MOVQ n+64(FP), CX
	SHRQ $4, CX
	XORQ R8, R8
cmz_loop:
	VMOVUPS (DX)(R8*1), Z4
	VSUBPS (DI)(R8*1), Z4, Z4
	VMULPS Z2, Z4, Z4
	VMULPS (SI)(R8*1), Z1, Z5
	VADDPS Z4, Z5, Z5
	VMOVUPS Z5, (SI)(R8*1)
	VMULPS Z3, Z5, Z6
	VMAXPS Z6, Z5, Z6
	VMOVUPS Z6, (R11)(R8*1)
	ADDQ $64, R8
	DECQ CX
	JNZ cmz_loop
	ADDQ zS+8(FP), SI
	ADDQ eS+24(FP), DI
	ADDQ fbS+40(FP), DX
	ADDQ phiS+56(FP), R11
	DECQ R9
	JNZ cmz_map
	VZEROUPPER
	RET

// func biasErrMapsY(mu *float32, muS int, e *float32, eS int, z *float32, zS int, n, rows int, bias *float32) float32
TEXT ·biasErrMapsY(SB), NOSPLIT, $0-76
	MOVQ mu+0(FP), SI
	MOVQ e+16(FP), DI
	MOVQ z+32(FP), DX
	MOVQ rows+56(FP), R9
	MOVQ bias+64(FP), R10
	VXORPS Y0, Y0, Y0
bemy_map:
	MOVQ n+48(FP), CX
	SHRQ $3, CX
	VBROADCASTSS (R10), Y1
	XORQ R8, R8
bemy_loop:
	VADDPS (SI)(R8*1), Y1, Y2
	VMOVUPS Y2, (SI)(R8*1)
	VMOVUPS (DX)(R8*1), Y3
	VSUBPS Y2, Y3, Y3
	VMOVUPS Y3, (DI)(R8*1)
	VMULPS Y3, Y3, Y3
	VADDPS Y3, Y0, Y0
	ADDQ $32, R8
	DECQ CX
	JNZ bemy_loop
	ADDQ muS+8(FP), SI
	ADDQ eS+24(FP), DI
	ADDQ zS+40(FP), DX
	ADDQ $4, R10
	DECQ R9
	JNZ bemy_map
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+72(FP)
	VZEROUPPER
	RET

// func correctMapsY(z *float32, zS int, e *float32, eS int, fb *float32, fbS int, phi *float32, phiS int, n, rows int, keep, beta, slope float32)
TEXT ·correctMapsY(SB), NOSPLIT, $0-92
	MOVQ z+0(FP), SI
	MOVQ e+16(FP), DI
	MOVQ fb+32(FP), DX
	MOVQ phi+48(FP), R11
	MOVQ rows+72(FP), R9
	VBROADCASTSS keep+80(FP), Y1
	VBROADCASTSS beta+84(FP), Y2
	VBROADCASTSS slope+88(FP), Y3
cmy_map:
	MOVQ n+64(FP), CX
	SHRQ $3, CX
	XORQ R8, R8
cmy_loop:
	VMOVUPS (DX)(R8*1), Y4
	VSUBPS (DI)(R8*1), Y4, Y4
	VMULPS Y2, Y4, Y4
	VMULPS (SI)(R8*1), Y1, Y5
	VADDPS Y4, Y5, Y5
	VMOVUPS Y5, (SI)(R8*1)
	VMULPS Y3, Y5, Y6
	VMAXPS Y6, Y5, Y6
	VMOVUPS Y6, (R11)(R8*1)
	ADDQ $32, R8
	DECQ CX
	JNZ cmy_loop
	ADDQ zS+8(FP), SI
	ADDQ eS+24(FP), DI
	ADDQ fbS+40(FP), DX
	ADDQ phiS+56(FP), R11
	DECQ R9
	JNZ cmy_map
	VZEROUPPER
	RET

// Lane transposes between a tile row ([x][16 images]) and image rows.

DATA iota16<>+0(SB)/4, $0
DATA iota16<>+4(SB)/4, $1
DATA iota16<>+8(SB)/4, $2
DATA iota16<>+12(SB)/4, $3
DATA iota16<>+16(SB)/4, $4
DATA iota16<>+20(SB)/4, $5
DATA iota16<>+24(SB)/4, $6
DATA iota16<>+28(SB)/4, $7
DATA iota16<>+32(SB)/4, $8
DATA iota16<>+36(SB)/4, $9
DATA iota16<>+40(SB)/4, $10
DATA iota16<>+44(SB)/4, $11
DATA iota16<>+48(SB)/4, $12
DATA iota16<>+52(SB)/4, $13
DATA iota16<>+56(SB)/4, $14
DATA iota16<>+60(SB)/4, $15
GLOBL iota16<>(SB), RODATA|NOPTR, $64

// func lanesToRowZ(dst, src *float32, w int)
//
// dst[x] = src[16·x] for x < w (w ≥ 1): one image's row out of a tile row.
TEXT ·lanesToRowZ(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ w+16(FP), CX
	VMOVDQU32 iota16<>(SB), Z1
	VPSLLD $4, Z1, Z1
ltr_loop:
	CMPQ CX, $16
	JL ltr_tail
	KXNORW K1, K1, K1
	VGATHERDPS (SI)(Z1*4), K1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $1024, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ ltr_loop
	JMP ltr_done
ltr_tail:
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	KMOVW AX, K2
	VGATHERDPS (SI)(Z1*4), K1, Z0
	VMOVUPS Z0, K2, (DI)
ltr_done:
	VZEROUPPER
	RET

// func rowToLanesZ(dst, src *float32, stride, w, n int)
//
// dst[16·x + i] = src[i·stride + x] for x < w and i < n, and 0 for
// n ≤ i < 16: n images' rows (stride floats apart) into a tile row.
TEXT ·rowToLanesZ(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ stride+16(FP), AX
	VPBROADCASTD AX, Z2
	VMOVDQU32 iota16<>(SB), Z1
	VPMULLD Z2, Z1, Z1
	MOVQ n+32(FP), CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2
	MOVQ w+24(FP), CX
rtl_loop:
	KMOVW K2, K1
	VXORPS Z0, Z0, Z0
	VGATHERDPS (SI)(Z1*4), K1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $4, SI
	ADDQ $64, DI
	DECQ CX
	JNZ rtl_loop
	VZEROUPPER
	RET
