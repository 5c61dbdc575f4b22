package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// minGrain is the smallest amount of element work worth a goroutine.
const minGrain = 1 << 14

// ParallelFor calls fn on disjoint chunks [lo, hi) covering [0, n), using up
// to GOMAXPROCS goroutines. cost is the approximate work per index, used to
// keep small problems serial.
func ParallelFor(n, cost int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*cost < 2*minGrain {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	chunk := (n + workers - 1) / workers
	for w := 1; w < workers; w++ {
		lo := w * chunk
		hi := min(lo+chunk, n)
		go func() {
			defer wg.Done()
			if lo < hi {
				fn(lo, hi)
			}
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}

func parallelFor(n, cost int, fn func(lo, hi int)) { ParallelFor(n, cost, fn) }

// ChunkSize is the fixed block length of ChunkedSum.
const ChunkSize = 1 << 15

// ChunkedSum splits [0, n) into fixed blocks of ChunkSize, calls fn on each
// block in parallel and returns the sum of the block results added in block
// order, so the result does not depend on the number of goroutines.
func ChunkedSum(n int, fn func(lo, hi int) float64) float64 {
	blocks := (n + ChunkSize - 1) / ChunkSize
	if blocks <= 1 {
		if n <= 0 {
			return 0
		}
		return fn(0, n)
	}
	var small [64]float64
	parts := small[:0]
	if blocks <= len(small) {
		parts = small[:blocks]
	} else {
		parts = make([]float64, blocks)
	}
	ParallelFor(blocks, ChunkSize, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			parts[b] = fn(b*ChunkSize, min((b+1)*ChunkSize, n))
		}
	})
	var s float64
	for _, p := range parts {
		s += p
	}
	return s
}

// Job is work that RunJob runs on several goroutines at once: Run(w) is
// called once for every worker index w.
type Job interface {
	Run(worker int)
}

// jobPart is one Run call handed to a pool goroutine.
type jobPart struct {
	j    Job
	w    int
	done *sync.WaitGroup
}

// The pool: long-lived goroutines that take parts from poolParts. idle
// counts those waiting for a part (or about to): a part is sent only after
// claiming one of them, so a send never waits for work to finish. A
// goroutine counts itself idle again before it reports its part done, so
// that the next RunJob after a finished one finds it.
var (
	poolParts   = make(chan jobPart)
	poolIdle    atomic.Int64
	poolMu      sync.Mutex
	poolStarted atomic.Int64
	poolWG      = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

func poolWorker() {
	for p := range poolParts {
		p.j.Run(p.w)
		poolIdle.Add(1)
		p.done.Done()
	}
}

// claimIdle takes one idle pool goroutine, if there is one.
func claimIdle() bool {
	for {
		n := poolIdle.Load()
		if n <= 0 {
			return false
		}
		if poolIdle.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// RunJob calls j.Run(w) for every w in [0, n), concurrently, and returns
// when every call has returned. Worker 0 runs on the calling goroutine, the
// others on a pool of long-lived goroutines (GOMAXPROCS−1 of them, started
// on first use). A part that finds no idle pool goroutine (other jobs, or
// an enclosing RunJob, keep them busy) runs on the calling goroutine, so
// RunJob never waits for a goroutine to become free and nested calls
// cannot deadlock; a job whose parts share their work through a counter
// loses nothing by it. Unlike ParallelFor it allocates nothing in the
// steady state, which is what lets an inference step run without
// allocating.
func RunJob(j Job, n int) {
	if n <= 1 {
		if n == 1 {
			j.Run(0)
		}
		return
	}
	if want := int64(runtime.GOMAXPROCS(0) - 1); poolStarted.Load() < want {
		poolMu.Lock()
		for poolStarted.Load() < want {
			poolStarted.Add(1)
			poolIdle.Add(1)
			go poolWorker()
		}
		poolMu.Unlock()
	}
	wg := poolWG.Get().(*sync.WaitGroup)
	for w := 1; w < n; w++ {
		if claimIdle() {
			wg.Add(1)
			poolParts <- jobPart{j, w, wg}
		} else {
			j.Run(w)
		}
	}
	j.Run(0)
	wg.Wait()
	poolWG.Put(wg)
}
