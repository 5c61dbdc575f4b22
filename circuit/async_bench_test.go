package circuit

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
)

// BenchmarkAsyncInProc compares sync and async (stale-synchronous, MaxLag
// 2, budget T) inference of the paper network through in-process actors on
// one mini-batch of 250 images (the batch of the speed issue's target).
// Every iteration runs one sync batch and one async batch, each followed by
// a garbage collection inside its timing, so that both see the same load:
// it reports both throughputs, async/sync ("ratio"), the async bus traffic
// and the mean squared difference between the two reconstructions
// ("mse-vs-sync", per pixel on [0,1]):
//
//	go test -run x -bench AsyncInProc -benchtime 3x ./circuit
func BenchmarkAsyncInProc(b *testing.B) {
	const batch = 250
	_, c := paperCircuit(b)
	x := images(batch, benchSize, 1)
	start := func(opts ...Option) (*Session, bus.Bus) {
		bb, err := bus.NewInProc()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { bb.Close() })
		s, err := Start(context.Background(), c, bb, append([]Option{Batch(batch), Timeout(time.Minute)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, bb
	}
	sync, _ := start()
	async, ab := start(Async(AsyncConfig{MaxLag: 2}))
	run := func(s *Session) []float32 {
		res, err := s.RunBatch(context.Background(), x)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		return res.Output
	}
	run(sync) // warm-up
	run(async)
	before := ab.Stats()
	var ts, ta time.Duration
	var mse float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		ys := run(sync)
		t1 := time.Now()
		ya := run(async)
		ts += t1.Sub(t0)
		ta += time.Since(t1)
		for j := range ys {
			d := float64(ya[j] - ys[j])
			mse += d * d
		}
	}
	b.StopTimer()
	n := float64(b.N) * batch
	b.ReportMetric(n/ts.Seconds(), "sync-img/s")
	b.ReportMetric(n/ta.Seconds(), "async-img/s")
	b.ReportMetric(ts.Seconds()/ta.Seconds(), "ratio")
	b.ReportMetric(mse/float64(b.N*len(x)), "mse-vs-sync")
	reportTraffic(b, before, ab.Stats(), ta)
}
