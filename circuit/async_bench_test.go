package circuit

import (
	"context"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
)

// BenchmarkAsyncInProc compares sync and async (stale-synchronous, MaxLag
// 2, budget T) inference of the paper network through in-process actors on
// one mini-batch of 100 images:
//
//	go test -run x -bench AsyncInProc -benchtime 3x ./circuit
func BenchmarkAsyncInProc(b *testing.B) {
	const batch = 100
	_, c := paperCircuit(b)
	x := images(batch, benchSize, 1)
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"sync", nil},
		{"async-maxlag2", []Option{Async(AsyncConfig{MaxLag: 2})}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bb, err := bus.NewInProc()
			if err != nil {
				b.Fatal(err)
			}
			defer bb.Close()
			s, err := Start(context.Background(), c, bb, append([]Option{Batch(batch), Timeout(time.Minute)}, tc.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.RunBatch(context.Background(), x); err != nil { // warm-up
				b.Fatal(err)
			}
			before := bb.Stats()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.RunBatch(context.Background(), x); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(batch*float64(b.N)/b.Elapsed().Seconds(), "img/s")
			reportTraffic(b, before, bb.Stats(), b.Elapsed())
		})
	}
}
