package tensor

import (
	"sync/atomic"
	"testing"
)

type countJob struct {
	runs  [64]atomic.Int32
	inner int // nested RunJob parts per part
}

func (j *countJob) Run(w int) {
	j.runs[w].Add(1)
	if j.inner > 0 {
		RunJob(&countJob{}, j.inner)
	}
}

// TestRunJob: every part runs exactly once, also with more parts than
// goroutines and with nested jobs (which must not deadlock), and a job
// allocates nothing once the pool is up.
func TestRunJob(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 64} {
		for _, inner := range []int{0, 3} {
			j := &countJob{inner: inner}
			RunJob(j, n)
			for w := range j.runs {
				if want := int32(0); w < n {
					want = 1
					if got := j.runs[w].Load(); got != want {
						t.Fatalf("n=%d inner=%d: part %d ran %d times", n, inner, w, got)
					}
				} else if j.runs[w].Load() != 0 {
					t.Fatalf("n=%d: part %d ran", n, w)
				}
			}
		}
	}
	j := &countJob{}
	if a := testing.AllocsPerRun(50, func() { RunJob(j, 2) }); a != 0 {
		t.Errorf("RunJob allocates %v times per call", a)
	}
}
