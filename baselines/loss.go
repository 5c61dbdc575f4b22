package baselines

import (
	"fmt"
	"math"

	"github.com/convngc/convngc/ngc/tensor"
)

// Loss is a reconstruction loss between predictions p and targets x, both
// in [0, 1], averaged over every value (every pixel of every channel of
// every image), as Keras' "mse" and "binary_crossentropy" do.
type Loss int

// The losses.
const (
	// MSE is mean((p − x)²).
	MSE Loss = iota
	// BCE is the binary cross-entropy −mean(x·log p + (1−x)·log(1−p)),
	// with p clipped to [BCEEpsilon, 1 − BCEEpsilon].
	BCE
)

// BCEEpsilon bounds the predictions inside the logarithms of BCE (Keras'
// backend epsilon).
const BCEEpsilon = 1e-7

// String returns the loss's name as used in configs: "mse" or "bce".
func (l Loss) String() string {
	switch l {
	case MSE:
		return "mse"
	case BCE:
		return "bce"
	}
	return fmt.Sprintf("loss(%d)", int(l))
}

// ParseLoss is the inverse of Loss.String.
func ParseLoss(name string) (Loss, error) {
	switch name {
	case "mse":
		return MSE, nil
	case "bce":
		return BCE, nil
	}
	return 0, fmt.Errorf("baselines: unknown loss %q (want mse or bce)", name)
}

// Eval returns the loss of predictions p against targets x and, when grad
// is not nil, writes its gradient with respect to p into grad (zero where
// BCE clips p).
func (l Loss) Eval(grad, p, x []float32) (float64, error) {
	if err := l.check(grad, p, x); err != nil {
		return 0, err
	}
	n := float64(len(p))
	total := tensor.ChunkedSum(len(p), func(lo, hi int) float64 {
		var s float64
		for i := lo; i < hi; i++ {
			v, t := float64(p[i]), float64(x[i])
			var g float64
			switch l {
			case MSE:
				s += (v - t) * (v - t)
				g = 2 * (v - t) / n
			case BCE:
				c := min(max(v, BCEEpsilon), 1-BCEEpsilon)
				s -= t*math.Log(c) + (1-t)*math.Log(1-c)
				if c == v {
					g = (v - t) / (v * (1 - v)) / n
				}
			}
			if grad != nil {
				grad[i] = float32(g)
			}
		}
		return s
	})
	return total / n, nil
}

// EvalSigmoid returns the loss of the predictions p = sigmoid(a) of a
// sigmoid output layer against targets x and, when grad is not nil, writes
// the gradient with respect to the logits a into grad. For BCE this is the
// well-conditioned (p − x)/N, which does not vanish when the sigmoid
// saturates on a wrong answer; for MSE it is 2(p − x)·p(1 − p)/N.
func (l Loss) EvalSigmoid(grad, p, x []float32) (float64, error) {
	if err := l.check(grad, p, x); err != nil {
		return 0, err
	}
	n := float64(len(p))
	total := tensor.ChunkedSum(len(p), func(lo, hi int) float64 {
		var s float64
		for i := lo; i < hi; i++ {
			v, t := float64(p[i]), float64(x[i])
			var g float64
			switch l {
			case MSE:
				s += (v - t) * (v - t)
				g = 2 * (v - t) * v * (1 - v) / n
			case BCE:
				c := min(max(v, BCEEpsilon), 1-BCEEpsilon)
				s -= t*math.Log(c) + (1-t)*math.Log(1-c)
				g = (v - t) / n
			}
			if grad != nil {
				grad[i] = float32(g)
			}
		}
		return s
	})
	return total / n, nil
}

func (l Loss) check(grad, p, x []float32) error {
	if l != MSE && l != BCE {
		return fmt.Errorf("baselines: unknown loss %d", int(l))
	}
	if len(p) == 0 || len(x) != len(p) || (grad != nil && len(grad) != len(p)) {
		return fmt.Errorf("%w: loss of %d predictions against %d targets (gradient %d)", ErrShape, len(p), len(x), len(grad))
	}
	return nil
}
