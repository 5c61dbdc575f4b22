package tensor

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Peak is a measured floating-point throughput of the machine: FP32 fused
// multiply-adds in registers, on every thread at once, with no memory
// traffic. It is the yardstick the benchmarks report their effective
// GFLOP/s against.
type Peak struct {
	// Kernel names the loop that was timed: "avx512" (512-bit FMA),
	// "avx2" (256-bit FMA) or "portable" (a Go loop the compiler does not
	// vectorise).
	Kernel string `json:"kernel"`
	// Threads is the number of goroutines, each locked to an OS thread.
	Threads int `json:"threads"`
	// GFLOPs is the throughput of all threads together in 10⁹ FP32
	// operations per second, two per multiply-add.
	GFLOPs float64 `json:"gflop_per_second"`
	// Seconds is the wall time of the timed run.
	Seconds float64 `json:"seconds"`
}

// String renders p as "96.3 GFLOP/s (avx2, 2 threads)".
func (p Peak) String() string {
	return fmt.Sprintf("%.1f GFLOP/s (%s, %d threads)", p.GFLOPs, p.Kernel, p.Threads)
}

// PeakKernels lists the kernels MeasurePeak can time on this machine, widest
// first. "portable" is always available.
func PeakKernels() []string {
	var ks []string
	if hasAVX512Peak {
		ks = append(ks, "avx512")
	}
	if hasKernel {
		ks = append(ks, "avx2")
	}
	return append(ks, "portable")
}

// peakLoop runs n iterations of kernel k and returns the FP32 operations it
// did (two per multiply-add) and a value that depends on every chain.
type peakLoop func(n int) (flops int64, sink float32)

func peakLoopFor(kernel string) (peakLoop, error) {
	const a, b = 0.999999, 1e-6 // converge: no overflow, no denormals
	switch kernel {
	case "avx512":
		if !hasAVX512Peak {
			break
		}
		return func(n int) (int64, float32) { return int64(n) * 2 * 28 * 16, fmaLoopAVX512(n, a, b) }, nil
	case "avx2":
		if !hasKernel {
			break
		}
		return func(n int) (int64, float32) { return int64(n) * 2 * 14 * 8, fmaLoopAVX2(n, a, b) }, nil
	case "portable":
		return func(n int) (int64, float32) { return int64(n) * 2 * 16, fmaLoopGo(n, a, b) }, nil
	}
	return nil, fmt.Errorf("tensor: FMA peak kernel %q is not available here (have %v)", kernel, PeakKernels())
}

// MeasurePeak times kernel (one of PeakKernels) on threads goroutines at
// once (GOMAXPROCS when threads < 1) for about d and returns the throughput
// of all of them together. Each goroutine is locked to its OS thread and
// repeats a register-resident loop of independent FMA chains; the result is
// the best of several short rounds, so that a brief disturbance does not
// lower it. Measure on a quiet machine: other work shares the cores.
func MeasurePeak(kernel string, threads int, d time.Duration) (Peak, error) {
	loop, err := peakLoopFor(kernel)
	if err != nil {
		return Peak{}, err
	}
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	if d <= 0 {
		d = 200 * time.Millisecond
	}
	// Calibrate: iterations per round of about 10 ms on one thread.
	n := 1 << 10
	for {
		t0 := time.Now()
		loop(n)
		if el := time.Since(t0); el > 2*time.Millisecond || n > 1<<30 {
			n = int(float64(n) * float64(10*time.Millisecond) / float64(max(el, time.Microsecond)))
			break
		}
		n *= 4
	}
	n = max(n, 1)
	best := Peak{Kernel: kernel, Threads: threads}
	start := time.Now()
	for round := 0; round == 0 || time.Since(start) < d; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var flops int64
		var sink float32
		ready := make(chan struct{})
		wg.Add(threads)
		for w := 0; w < threads; w++ {
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				<-ready
				f, s := loop(n)
				mu.Lock()
				flops += f
				sink += s
				mu.Unlock()
			}()
		}
		time.Sleep(time.Millisecond) // let every goroutine reach its thread
		t0 := time.Now()
		close(ready)
		wg.Wait()
		sec := time.Since(t0).Seconds()
		if g := float64(flops) / sec / 1e9; g > best.GFLOPs && sink == sink {
			best.GFLOPs, best.Seconds = g, sec
		}
	}
	return best, nil
}

// fmaLoopGo is the portable peak loop: 16 independent scalar multiply-add
// chains. The compiler neither vectorises it nor (on most targets) fuses
// the multiply and the add, so it measures scalar throughput.
func fmaLoopGo(n int, a, b float32) float32 {
	var v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15 float32
	for i := 0; i < n; i++ {
		v0 = v0*a + b
		v1 = v1*a + b
		v2 = v2*a + b
		v3 = v3*a + b
		v4 = v4*a + b
		v5 = v5*a + b
		v6 = v6*a + b
		v7 = v7*a + b
		v8 = v8*a + b
		v9 = v9*a + b
		v10 = v10*a + b
		v11 = v11*a + b
		v12 = v12*a + b
		v13 = v13*a + b
		v14 = v14*a + b
		v15 = v15*a + b
	}
	return v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8 + v9 + v10 + v11 + v12 + v13 + v14 + v15
}
