package metrics

import "fmt"

// Accumulator averages metrics over a stream of batches. Its Report after
// adding batches b1, b2, … equals Evaluate on their concatenation (the same
// per-image values summed in the same order). The zero value is an empty
// Accumulator ready to use. An Accumulator is not safe for concurrent use.
type Accumulator struct {
	sum sums
}

// Add evaluates one batch and adds its images to the running means. On error
// (a shape mismatch, or images smaller than 11×11) nothing is added.
func (a *Accumulator) Add(x, xhat []float32, s Shape) error {
	rs, err := perImage(x, xhat, s, wantAll)
	if err != nil {
		return fmt.Errorf("metrics: Accumulator.Add: %w", err)
	}
	a.sum.add(rs)
	return nil
}

// Report returns the means over every image added so far, with Images set to
// their number. With no images added it returns the zero Report.
func (a *Accumulator) Report() Report { return a.sum.mean() }

// Reset empties the Accumulator.
func (a *Accumulator) Reset() { a.sum = sums{} }
