package tensor

import (
	"runtime"
	"sync"
)

// minGrain is the smallest amount of element work worth a goroutine.
const minGrain = 1 << 14

// parallelFor calls fn on disjoint chunks [lo, hi) covering [0, n), using up
// to GOMAXPROCS goroutines. cost is the approximate work per index, used to
// keep small problems serial.
func parallelFor(n, cost int, fn func(lo, hi int)) {
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
