package tensor

import (
	"runtime"
	"sync"
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
