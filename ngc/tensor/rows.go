package tensor

import "fmt"

// Row operations of the tile engine: the elementwise finish of a
// prediction and of a state correction on rows of floats, vectorised with
// AVX-512 or AVX2 where the machine has them. Every operation rounds as
// the plain Go expression in its comment does (no multiply-add is fused),
// so the vector and the portable versions give the same floats.

// BiasError finishes a prediction and its error on one row: for every i,
//
//	mu[i] = mu[i] + b
//	e[i]  = z[i] − mu[i]
//
// and returns Σ e[i]² (accumulated in float32, in up to 16 interleaved
// partial sums).
func BiasError(mu, e, z []float32, b float32) float32 {
	checkLen("BiasError e", e, len(mu))
	checkLen("BiasError z", z, len(mu))
	n := len(mu) &^ 15
	var s float32
	if n > 0 {
		switch tileISA {
		case "avx512":
			s = biasErrZ(&mu[0], &e[0], &z[0], n, b)
		case "avx2":
			s = biasErrY(&mu[0], &e[0], &z[0], n, b)
		default:
			n = 0
		}
	}
	var part [16]float32
	for i := n; i < len(mu); i++ {
		m := mu[i] + b
		mu[i] = m
		d := z[i] - m
		e[i] = d
		part[i&15] += d * d
	}
	for _, v := range part {
		s += v
	}
	return s
}

// CorrectLeaky moves states one step and applies a leaky-ReLU-shaped
// activation to them: for every i,
//
//	z[i]   = keep·z[i] + beta·(fb[i] − e[i])
//	phi[i] = max(z[i], slope·z[i])
//
// which is φ(z) for LeakyReLU (slope LeakySlope), Identity (slope 1) and,
// up to the sign of zero, ReLU (slope 0).
func CorrectLeaky(z, e, fb, phi []float32, keep, beta, slope float32) {
	checkLen("CorrectLeaky e", e, len(z))
	checkLen("CorrectLeaky fb", fb, len(z))
	checkLen("CorrectLeaky phi", phi, len(z))
	n := len(z) &^ 15
	if n > 0 {
		switch tileISA {
		case "avx512":
			correctPhiZ(&z[0], &e[0], &fb[0], &phi[0], n, keep, beta, slope)
		case "avx2":
			correctPhiY(&z[0], &e[0], &fb[0], &phi[0], n, keep, beta, slope)
		default:
			n = 0
		}
	}
	for i := n; i < len(z); i++ {
		// The conversions keep the compiler from fusing a multiply-add
		// (GOAMD64=v3 may), so every version rounds alike.
		v := float32(keep*z[i]) + float32(beta*(fb[i]-e[i]))
		z[i] = v
		phi[i] = max(v, float32(slope*v))
	}
}

// Leaky writes max(src[i], slope·src[i]) into dst[i] (see CorrectLeaky).
func Leaky(dst, src []float32, slope float32) {
	checkLen("Leaky dst", dst, len(src))
	n := len(src) &^ 15
	if n > 0 {
		switch tileISA {
		case "avx512":
			leakyZ(&dst[0], &src[0], n, slope)
		case "avx2":
			leakyY(&dst[0], &src[0], n, slope)
		default:
			n = 0
		}
	}
	for i := n; i < len(src); i++ {
		v := src[i]
		dst[i] = max(v, float32(slope*v))
	}
}

// LeakySlopeOf returns the slope for which max(v, slope·v) is a(v) (see
// CorrectLeaky and Leaky), and false for activations of another shape.
func LeakySlopeOf(a Activation) (float32, bool) {
	switch a {
	case LeakyReLU:
		return LeakySlope, true
	case Identity:
		return 1, true
	case ReLU:
		return 0, true
	}
	return 0, false
}

// MapRows is one row of each of Maps maps held in one buffer: map m's row
// is Buf[Off+m·Stride : Off+m·Stride+Len]. A Stride of 0 repeats one row
// (a zero row standing for every map's missing term, for example).
type MapRows struct {
	Buf                    []float32
	Off, Stride, Len, Maps int
}

// Row returns map m's row.
func (r MapRows) Row(m int) []float32 {
	o := r.Off + m*r.Stride
	return r.Buf[o : o+r.Len : o+r.Len]
}

func (r MapRows) check(what string, maps, n int) {
	if r.Maps != maps || r.Len != n || r.Off < 0 || r.Stride < 0 || maps < 1 || n < 0 ||
		r.Off+(maps-1)*r.Stride+n > len(r.Buf) {
		panic(fmt.Sprintf("tensor: %s: rows %+v (buffer of %d) do not hold %d maps of %d", what, MapRows{Off: r.Off, Stride: r.Stride, Len: r.Len, Maps: r.Maps}, len(r.Buf), maps, n))
	}
}

// Rows returns interior row y of every map of buf (see Row).
func (g TileGrid) Rows(buf []float32, y int) MapRows {
	return MapRows{Buf: buf, Off: g.RowOffset(0, y), Stride: g.planeLen(), Len: g.W * TileImages, Maps: g.C}
}

// BiasErrorMaps is BiasError on every map's row, with bias[m] for map m;
// it returns the sum over all maps.
func BiasErrorMaps(mu, e, z MapRows, bias []float32) float32 {
	n, maps := mu.Len, mu.Maps
	mu.check("BiasErrorMaps mu", maps, n)
	e.check("BiasErrorMaps e", maps, n)
	z.check("BiasErrorMaps z", maps, n)
	if len(bias) != maps {
		panic("tensor: BiasErrorMaps: one bias per map")
	}
	if n > 0 && n%16 == 0 {
		switch tileISA {
		case "avx512":
			return biasErrMapsZ(&mu.Buf[mu.Off], 4*mu.Stride, &e.Buf[e.Off], 4*e.Stride, &z.Buf[z.Off], 4*z.Stride, n, maps, &bias[0])
		case "avx2":
			return biasErrMapsY(&mu.Buf[mu.Off], 4*mu.Stride, &e.Buf[e.Off], 4*e.Stride, &z.Buf[z.Off], 4*z.Stride, n, maps, &bias[0])
		}
	}
	var s float32
	for m := 0; m < maps; m++ {
		s += BiasError(mu.Row(m), e.Row(m), z.Row(m), bias[m])
	}
	return s
}

// CorrectLeakyMaps is CorrectLeaky on every map's row.
func CorrectLeakyMaps(z, e, fb, phi MapRows, keep, beta, slope float32) {
	n, maps := z.Len, z.Maps
	z.check("CorrectLeakyMaps z", maps, n)
	e.check("CorrectLeakyMaps e", maps, n)
	fb.check("CorrectLeakyMaps fb", maps, n)
	phi.check("CorrectLeakyMaps phi", maps, n)
	if n > 0 && n%16 == 0 {
		switch tileISA {
		case "avx512":
			correctMapsZ(&z.Buf[z.Off], 4*z.Stride, &e.Buf[e.Off], 4*e.Stride, &fb.Buf[fb.Off], 4*fb.Stride, &phi.Buf[phi.Off], 4*phi.Stride, n, maps, keep, beta, slope)
			return
		case "avx2":
			correctMapsY(&z.Buf[z.Off], 4*z.Stride, &e.Buf[e.Off], 4*e.Stride, &fb.Buf[fb.Off], 4*fb.Stride, &phi.Buf[phi.Off], 4*phi.Stride, n, maps, keep, beta, slope)
			return
		}
	}
	for m := 0; m < maps; m++ {
		CorrectLeaky(z.Row(m), e.Row(m), fb.Row(m), phi.Row(m), keep, beta, slope)
	}
}
