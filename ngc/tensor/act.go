package tensor

import (
	"fmt"
	"math"
)

// Activation is an elementwise nonlinearity with its derivative.
type Activation int

// The activations Conv-NGC and the baselines use.
const (
	Identity  Activation = iota // f(v) = v
	LeakyReLU                   // f(v) = v for v > 0, LeakySlope·v otherwise
	ReLU                        // f(v) = max(v, 0)
	Sigmoid                     // f(v) = 1/(1+e^−v)
	SELU                        // scaled exponential linear unit (Klambauer et al. 2017)
)

// LeakySlope is the negative-side slope of LeakyReLU.
const LeakySlope = 0.01

// SELU constants (Klambauer et al. 2017).
const (
	seluAlpha = 1.6732632423543772848170429916717
	seluScale = 1.0507009873554804934193349852946
)

var activationNames = map[Activation]string{
	Identity: "identity", LeakyReLU: "leaky-relu", ReLU: "relu", Sigmoid: "sigmoid", SELU: "selu",
}

// String returns the activation's name as used in configs and flags.
func (a Activation) String() string {
	if n, ok := activationNames[a]; ok {
		return n
	}
	return fmt.Sprintf("activation(%d)", int(a))
}

// ParseActivation is the inverse of Activation.String.
func ParseActivation(name string) (Activation, error) {
	for a, n := range activationNames {
		if n == name {
			return a, nil
		}
	}
	return 0, fmt.Errorf("tensor: unknown activation %q (want identity, leaky-relu, relu, sigmoid or selu)", name)
}

// MarshalText implements encoding.TextMarshaler.
func (a Activation) MarshalText() ([]byte, error) {
	if _, ok := activationNames[a]; !ok {
		return nil, fmt.Errorf("tensor: unknown activation %d", int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Activation) UnmarshalText(b []byte) error {
	v, err := ParseActivation(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Apply writes f(src) into dst (which may alias src), in parallel for long
// slices.
func (a Activation) Apply(dst, src []float32) {
	checkLen("Activation.Apply dst", dst, len(src))
	ParallelFor(len(src), 2, func(lo, hi int) { a.apply(dst[lo:hi], src[lo:hi]) })
}

// ApplySerial is Apply on the calling goroutine only: for short slices in
// code that is already parallel (and that must not allocate).
func (a Activation) ApplySerial(dst, src []float32) {
	checkLen("Activation.ApplySerial dst", dst, len(src))
	a.apply(dst, src)
}

func (a Activation) apply(dst, src []float32) {
	switch a {
	case Identity:
		copy(dst, src)
	case LeakyReLU:
		// max(v, slope·v) is v for v ≥ 0 and slope·v below (0 < slope < 1),
		// bit for bit as the branch would give, without a branch that
		// random signs mispredict.
		dst = dst[:len(src)]
		for i, v := range src {
			dst[i] = max(v, v*LeakySlope)
		}
	case ReLU:
		for i, v := range src {
			dst[i] = max(v, 0)
		}
	case Sigmoid:
		for i, v := range src {
			dst[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	case SELU:
		for i, v := range src {
			if v > 0 {
				dst[i] = float32(seluScale * float64(v))
			} else {
				dst[i] = float32(seluScale * seluAlpha * (math.Exp(float64(v)) - 1))
			}
		}
	default:
		panic("tensor: unknown activation " + a.String())
	}
}

// Deriv writes f'(v) into dst for every pre-activation v in src.
func (a Activation) Deriv(dst, src []float32) {
	checkLen("Activation.Deriv dst", dst, len(src))
	switch a {
	case Identity:
		for i := range dst {
			dst[i] = 1
		}
	case LeakyReLU:
		for i, v := range src {
			if v > 0 {
				dst[i] = 1
			} else {
				dst[i] = LeakySlope
			}
		}
	case ReLU:
		for i, v := range src {
			if v > 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	case Sigmoid:
		for i, v := range src {
			s := 1 / (1 + math.Exp(-float64(v)))
			dst[i] = float32(s * (1 - s))
		}
	case SELU:
		for i, v := range src {
			if v > 0 {
				dst[i] = seluScale
			} else {
				dst[i] = float32(seluScale * seluAlpha * math.Exp(float64(v)))
			}
		}
	default:
		panic("tensor: unknown activation " + a.String())
	}
}
