//go:build ignore

// gen_tile writes tile_amd64.s and tile_kernels_amd64.go: the register-blocked
// micro-kernels of the tile convolutions (see tile.go) for AVX-512 and AVX2.
//
//	go generate ./ngc/tensor
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
)

// A kernel computes an mr×p block of outputs: mr output maps at p output
// positions, each a vector of TileImages = 16 floats (one ZMM register or
// two YMM registers):
//
//	out[r·ostrR + q·ostrP] = Σ_kk a[kk·mr + r] · in[q·istr + rel[kk]]
//
// for r < mr, q < p; offsets are in bytes. The sum runs over kk in order,
// one fused multiply-add per term, starting from zero.
type kernel struct {
	isa   string // "Z" (AVX-512) or "Y" (AVX2)
	mr, p int
}

func (k kernel) name() string { return fmt.Sprintf("tileKern%s%dx%d", k.isa, k.mr, k.p) }

// Kernels generated. AVX-512: 32 vector registers hold mr·p accumulators,
// mr broadcast weights and two input vectors. AVX2: each position is two
// YMM registers; 16 registers hold 2·mr·p accumulators, one broadcast and
// two inputs.
func kernels() []kernel {
	var ks []kernel
	for mr := 1; mr <= 6; mr++ {
		for _, p := range []int{1, 2, 4} {
			ks = append(ks, kernel{"Z", mr, p})
		}
		if mr <= 3 {
			ks = append(ks, kernel{"Z", mr, 8})
		}
		ks = append(ks, kernel{"Y", mr, 1})
	}
	for _, mr := range []int{1, 2} {
		ks = append(ks, kernel{"Y", mr, 2})
	}
	return ks
}

type asm struct{ bytes.Buffer }

func (a *asm) op(format string, args ...any) { fmt.Fprintf(&a.Buffer, "\t"+format+"\n", args...) }
func (a *asm) label(l string)                { fmt.Fprintf(&a.Buffer, "%s:\n", l) }

// Index registers for the p input (and output) positions: position q is at
// base + q·stride, with stride in R8 (inputs) or R10 (outputs). The
// multiples of the stride live in registers so that every load is one
// base+index addressing mode.
//
//	q: 0    1      2      3          4      5          6          7
//	   (B)  (B)(S*1) (B)(S*2) (B)(M3*1) (B)(S*4) (B)(M5*1) (B)(M3*2) (B)(M7*1)
func posAddr(base, s, m3, m5, m7 string, q int) string {
	switch q {
	case 0:
		return fmt.Sprintf("(%s)", base)
	case 1:
		return fmt.Sprintf("(%s)(%s*1)", base, s)
	case 2:
		return fmt.Sprintf("(%s)(%s*2)", base, s)
	case 3:
		return fmt.Sprintf("(%s)(%s*1)", base, m3)
	case 4:
		return fmt.Sprintf("(%s)(%s*4)", base, s)
	case 5:
		return fmt.Sprintf("(%s)(%s*1)", base, m5)
	case 6:
		return fmt.Sprintf("(%s)(%s*2)", base, m3)
	case 7:
		return fmt.Sprintf("(%s)(%s*1)", base, m7)
	}
	panic("position")
}

// multiples sets m3 (and m5, m7 when p > 4) to 3, 5, 7 times s.
func (a *asm) multiples(p int, s, m3, m5, m7 string) {
	if p > 2 {
		a.op("LEAQ (%s)(%s*2), %s", s, s, m3)
	}
	if p > 4 {
		a.op("LEAQ (%s)(%s*4), %s", s, s, m5)
		a.op("LEAQ (%s)(%s*2), %s", m5, s, m7)
	}
}

func (a *asm) kernel(k kernel) {
	fmt.Fprintf(&a.Buffer, "// func %s(k int, a *float32, rel *int, in *float32, istr int, out *float32, ostrR, ostrP int)\n", k.name())
	fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, $0-64\n", k.name())
	a.op("MOVQ k+0(FP), CX")
	a.op("MOVQ a+8(FP), AX")
	a.op("MOVQ rel+16(FP), DX")
	a.op("MOVQ in+24(FP), SI")
	a.op("MOVQ istr+32(FP), R8")
	a.multiples(k.p, "R8", "R12", "R13", "R14")
	width := 1 // vector registers per position
	reg := "Z"
	if k.isa == "Y" {
		width, reg = 2, "Y"
	}
	acc := func(r, q, h int) string { return fmt.Sprintf("%s%d", reg, (r*k.p+q)*width+h) }
	nacc := k.mr * k.p * width
	for i := 0; i < nacc; i++ {
		a.op("VXORPS %s%d, %s%d, %s%d", reg, i, reg, i, reg, i)
	}
	l := k.name()
	a.op("TESTQ CX, CX")
	a.op("JLE %s_store", l)
	a.label(l + "_loop")
	a.op("MOVQ (DX), R11")
	a.op("ADDQ SI, R11")
	if k.isa == "Z" {
		// Broadcast the mr weights of this term, then one input vector per
		// position and mr FMAs each.
		bc := func(r int) string { return fmt.Sprintf("Z%d", nacc+r) }
		for r := 0; r < k.mr; r++ {
			a.op("VBROADCASTSS %d(AX), %s", 4*r, bc(r))
		}
		for q := 0; q < k.p; q++ {
			in := fmt.Sprintf("Z%d", nacc+k.mr+q%2)
			a.op("VMOVUPS %s, %s", posAddr("R11", "R8", "R12", "R13", "R14", q), in)
			for r := 0; r < k.mr; r++ {
				a.op("VFMADD231PS %s, %s, %s", bc(r), in, acc(r, q, 0))
			}
		}
	} else {
		// Two YMM halves per position; one broadcast at a time.
		in := func(q, h int) string { return fmt.Sprintf("Y%d", nacc+q*2+h) }
		bc := fmt.Sprintf("Y%d", nacc+2*k.p)
		for q := 0; q < k.p; q++ {
			addr := posAddr("R11", "R8", "R12", "R13", "R14", q)
			a.op("VMOVUPS %s, %s", addr, in(q, 0))
			a.op("VMOVUPS 32%s, %s", addr, in(q, 1))
		}
		for r := 0; r < k.mr; r++ {
			a.op("VBROADCASTSS %d(AX), %s", 4*r, bc)
			for q := 0; q < k.p; q++ {
				a.op("VFMADD231PS %s, %s, %s", bc, in(q, 0), acc(r, q, 0))
				a.op("VFMADD231PS %s, %s, %s", bc, in(q, 1), acc(r, q, 1))
			}
		}
	}
	a.op("ADDQ $8, DX")
	a.op("ADDQ $%d, AX", 4*k.mr)
	a.op("DECQ CX")
	a.op("JNZ %s_loop", l)
	a.label(l + "_store")
	a.op("MOVQ out+40(FP), DI")
	a.op("MOVQ ostrR+48(FP), R9")
	a.op("MOVQ ostrP+56(FP), R10")
	a.multiples(k.p, "R10", "R12", "R13", "R14")
	for r := 0; r < k.mr; r++ {
		if r > 0 {
			a.op("ADDQ R9, DI")
		}
		for q := 0; q < k.p; q++ {
			addr := posAddr("DI", "R10", "R12", "R13", "R14", q)
			a.op("VMOVUPS %s, %s", acc(r, q, 0), addr)
			if width == 2 {
				a.op("VMOVUPS %s, 32%s", acc(r, q, 1), addr)
			}
		}
	}
	a.op("VZEROUPPER")
	a.op("RET")
	a.WriteString("\n")
}

// A gradient kernel accumulates an mr×kr block of kernel-gradient partial
// sums, one vector of 16 lanes each, over nrows×ncols small-side positions:
//
//	acc[r·accRow + j·64 + 4i] += Σ_pos phi[r·phiO + pos][i] · e[rel[j] + pos'][i]
//
// where position (y, x) is at phi + y·phiRow + x·64 and at e + y·eRow +
// x·eCol (all in bytes). The caller reduces the lanes.
type gradKernel struct {
	isa    string
	mr, kr int
}

func (k gradKernel) name() string { return fmt.Sprintf("gradKern%s%dx%d", k.isa, k.mr, k.kr) }

func gradKernels() []gradKernel {
	var ks []gradKernel
	for mr := 1; mr <= 4; mr++ {
		for kr := 1; kr <= 6; kr++ {
			ks = append(ks, gradKernel{"Z", mr, kr})
		}
	}
	for mr := 1; mr <= 2; mr++ {
		for kr := 1; kr <= 3; kr++ {
			ks = append(ks, gradKernel{"Y", mr, kr})
		}
	}
	return ks
}

func (a *asm) gradKernel(k gradKernel) {
	fmt.Fprintf(&a.Buffer, "// func %s(nrows, ncols int, phi *float32, phiO, phiRow int, e *float32, eRow, eCol int, rel *int, acc *float32, accRow int)\n", k.name())
	fmt.Fprintf(&a.Buffer, "TEXT ·%s(SB), NOSPLIT, $0-88\n", k.name())
	eptr := []string{"R11", "R12", "R13", "R14", "BX", "AX"}
	a.op("MOVQ nrows+0(FP), CX")
	a.op("MOVQ phi+16(FP), SI")
	a.op("MOVQ phiO+24(FP), R9")
	a.op("LEAQ (R9)(R9*2), R10")
	a.op("MOVQ e+40(FP), DX")
	a.op("MOVQ rel+64(FP), DI")
	for j := 0; j < k.kr; j++ {
		a.op("MOVQ %d(DI), %s", 8*j, eptr[j])
		a.op("ADDQ DX, %s", eptr[j])
	}
	width, reg := 1, "Z"
	if k.isa == "Y" {
		width, reg = 2, "Y"
	}
	nacc := k.mr * k.kr * width
	acc := func(r, j, h int) string { return fmt.Sprintf("%s%d", reg, (r*k.kr+j)*width+h) }
	for i := 0; i < nacc; i++ {
		a.op("VXORPS %s%d, %s%d, %s%d", reg, i, reg, i, reg, i)
	}
	phiAddr := func(r int) string {
		return [...]string{"(R8)", "(R8)(R9*1)", "(R8)(R9*2)", "(R8)(R10*1)"}[r]
	}
	l := k.name()
	a.op("TESTQ CX, CX")
	a.op("JLE %s_done", l)
	a.label(l + "_row")
	a.op("MOVQ ncols+8(FP), DX")
	a.op("MOVQ SI, R8")
	a.op("XORQ DI, DI")
	a.label(l + "_col")
	if k.isa == "Z" {
		ph := func(r int) string { return fmt.Sprintf("Z%d", nacc+r) }
		for r := 0; r < k.mr; r++ {
			a.op("VMOVUPS %s, %s", phiAddr(r), ph(r))
		}
		for j := 0; j < k.kr; j++ {
			t := fmt.Sprintf("Z%d", nacc+k.mr+j%2)
			a.op("VMOVUPS (%s)(DI*1), %s", eptr[j], t)
			for r := 0; r < k.mr; r++ {
				a.op("VFMADD231PS %s, %s, %s", ph(r), t, acc(r, j, 0))
			}
		}
	} else {
		for h := 0; h < 2; h++ {
			ph := func(r int) string { return fmt.Sprintf("Y%d", nacc+r) }
			for r := 0; r < k.mr; r++ {
				a.op("VMOVUPS %d%s, %s", 32*h, phiAddr(r), ph(r))
			}
			for j := 0; j < k.kr; j++ {
				t := fmt.Sprintf("Y%d", nacc+k.mr)
				a.op("VMOVUPS %d(%s)(DI*1), %s", 32*h, eptr[j], t)
				for r := 0; r < k.mr; r++ {
					a.op("VFMADD231PS %s, %s, %s", ph(r), t, acc(r, j, h))
				}
			}
		}
	}
	a.op("ADDQ $64, R8")
	a.op("ADDQ eCol+56(FP), DI")
	a.op("DECQ DX")
	a.op("JNZ %s_col", l)
	a.op("ADDQ phiRow+32(FP), SI")
	for j := 0; j < k.kr; j++ {
		a.op("ADDQ eRow+48(FP), %s", eptr[j])
	}
	a.op("DECQ CX")
	a.op("JNZ %s_row", l)
	a.label(l + "_done")
	a.op("MOVQ acc+72(FP), DI")
	a.op("MOVQ accRow+80(FP), DX")
	for r := 0; r < k.mr; r++ {
		if r > 0 {
			a.op("ADDQ DX, DI")
		}
		for j := 0; j < k.kr; j++ {
			for h := 0; h < width; h++ {
				off := j*64 + h*32
				a.op("VADDPS %d(DI), %s, %s", off, acc(r, j, h), acc(r, j, h))
				a.op("VMOVUPS %s, %d(DI)", acc(r, j, h), off)
			}
		}
	}
	a.op("VZEROUPPER")
	a.op("RET")
	a.WriteString("\n")
}

func main() {
	var s asm
	s.WriteString("// Code generated by gen_tile.go; DO NOT EDIT.\n\n//go:build !purego\n\n#include \"textflag.h\"\n\n")
	for _, k := range kernels() {
		s.kernel(k)
	}
	for _, k := range gradKernels() {
		s.gradKernel(k)
	}
	if err := os.WriteFile("tile_amd64.s", s.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}

	var g bytes.Buffer
	g.WriteString("// Code generated by gen_tile.go; DO NOT EDIT.\n\n//go:build !purego\n\npackage tensor\n\n")
	for _, k := range kernels() {
		fmt.Fprintf(&g, "//go:noescape\nfunc %s(k int, a *float32, rel *int, in *float32, istr int, out *float32, ostrR, ostrP int)\n\n", k.name())
	}
	for _, k := range gradKernels() {
		fmt.Fprintf(&g, "//go:noescape\nfunc %s(nrows, ncols int, phi *float32, phiO, phiRow int, e *float32, eRow, eCol int, rel *int, acc *float32, accRow int)\n\n", k.name())
	}
	for _, isa := range []string{"Z", "Y"} {
		fmt.Fprintf(&g, "var gradKernels%s = [5][7]gradKernel{\n", isa)
		for mr := 1; mr <= 4; mr++ {
			fmt.Fprintf(&g, "\t%d: {", mr)
			for _, k := range gradKernels() {
				if k.isa == isa && k.mr == mr {
					fmt.Fprintf(&g, "%d: %s, ", k.kr, k.name())
				}
			}
			g.WriteString("},\n")
		}
		g.WriteString("}\n\n")
	}
	g.WriteString("// tileKernelsZ and tileKernelsY are the generated kernels by [mr][p]; nil where none was generated.\n")
	for _, isa := range []string{"Z", "Y"} {
		fmt.Fprintf(&g, "var tileKernels%s = [7][9]tileKernel{\n", isa)
		for mr := 1; mr <= 6; mr++ {
			fmt.Fprintf(&g, "\t%d: {", mr)
			for _, k := range kernels() {
				if k.isa == isa && k.mr == mr {
					fmt.Fprintf(&g, "%d: %s, ", k.p, k.name())
				}
			}
			g.WriteString("},\n")
		}
		g.WriteString("}\n\n")
	}
	src, err := format.Source(g.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("tile_kernels_amd64.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
