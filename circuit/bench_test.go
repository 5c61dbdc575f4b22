package circuit

import (
	"context"
	"testing"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/ngc"
)

// benchRuntime measures sync inference of the paper network (B=500, T=60)
// through the actors on bus b, beside the batched reference in the same run.
func benchRuntime(b *testing.B, newBus func() bus.Bus) {
	const B = 500
	m, err := ngc.New(ngc.Config{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := FromModel(m)
	if err != nil {
		b.Fatal(err)
	}
	x := images(B, 32, 1)
	bb := newBus()
	defer bb.Close()
	s, err := Start(context.Background(), c, bb, Batch(B))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.RunBatch(context.Background(), x); err != nil { // warm up
		b.Fatal(err)
	}
	before := bb.Stats()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.RunBatch(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	after := bb.Stats()
	b.ReportMetric(B/sec, "img/s")
	b.ReportMetric(float64(after.Received.Msgs-before.Received.Msgs)/float64(b.N)/sec, "msg/s")
	b.ReportMetric(float64(after.Received.Bytes-before.Received.Bytes)/float64(b.N)/sec/1e6, "MB/s")
}

// BenchmarkSyncInProc is sync inference through in-process actors.
func BenchmarkSyncInProc(b *testing.B) {
	benchRuntime(b, func() bus.Bus {
		bb, err := bus.NewInProc()
		if err != nil {
			b.Fatal(err)
		}
		return bb
	})
}
