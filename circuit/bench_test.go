package circuit

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/ngc"
)

// The runtime benchmarks measure sync inference of the paper network at
// the paper configuration (B=500, T=60) through the batched reference and
// through the actors on each bus, in one `go test -bench` run:
//
//	go test -run x -bench Runtime -benchtime 3x ./circuit
//
// Every sub-benchmark reports img/s, cpu-ms/op (process CPU time per batch,
// which a busy machine disturbs less than wall time) and, for the actors,
// the bus traffic (see reportTraffic; bytes are the frames' WireSize, 4
// bytes per float plus the header). The Ratio
// benchmarks alternate one batched batch and one actor batch in every
// iteration, so that both see the same load, and report the throughput
// ratio.

const (
	benchBatch = 500
	benchSize  = 32
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// paperBench is the paper network and one mini-batch of inputs, with the
// sessions started on it so far (kept across a benchmark's rounds, so that
// the N=1 round and the timed round share one warm session).
type paperBench struct {
	m        *ngc.Model
	c        *Circuit
	ws       *ngc.Workspace
	x        []float32
	sessions map[benchBus]*benchSession
}

// benchSession is a started sync session and its bus.
type benchSession struct {
	s       *Session
	b       bus.Bus
	release func()
}

// paperCircuit is the paper network, freshly initialised, and its circuit.
func paperCircuit(b *testing.B) (*ngc.Model, *Circuit) {
	b.Helper()
	m, err := ngc.New(ngc.Config{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := FromModel(m)
	if err != nil {
		b.Fatal(err)
	}
	return m, c
}

func newPaperBench(b *testing.B) *paperBench {
	b.Helper()
	m, c := paperCircuit(b)
	ws, err := m.NewWorkspace(benchBatch)
	if err != nil {
		b.Fatal(err)
	}
	return &paperBench{m: m, c: c, ws: ws, x: images(benchBatch, benchSize, 1), sessions: map[benchBus]*benchSession{}}
}

// close releases every session.
func (p *paperBench) close() {
	for _, bs := range p.sessions {
		bs.release()
	}
}

// batched runs one inference batch of the batched reference.
func (p *paperBench) batched(b *testing.B) {
	if err := p.m.Infer(p.ws, p.x, ngc.Reconstruct, nil, nil); err != nil {
		b.Fatal(err)
	}
}

// benchBus names a bus under test.
type benchBus string

const (
	busInProc  benchBus = "inproc"        // channels, no serialisation
	busNATSMem benchBus = "nats-embedded" // embedded server, in-memory client connection
	busNATSTCP benchBus = "nats-tcp"      // embedded server, client over loopback TCP
)

// newBus returns a bus of kind k and a function that releases it.
func newBus(b *testing.B, k benchBus) (bus.Bus, func()) {
	b.Helper()
	if k == busInProc {
		bb, err := bus.NewInProc()
		if err != nil {
			b.Fatal(err)
		}
		return bb, func() { bb.Close() }
	}
	srv, err := bus.StartEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	var nb *bus.NATS
	if k == busNATSMem {
		nb, err = srv.Connect()
	} else {
		nb, err = bus.Connect(srv.ClientURL())
	}
	if err != nil {
		srv.Shutdown()
		b.Fatal(err)
	}
	return nb, func() { nb.Close(); srv.Shutdown() }
}

// actors returns the sync session of the paper network on a bus of kind k,
// starting it and running one warm-up batch the first time.
func (p *paperBench) actors(b *testing.B, k benchBus) *benchSession {
	b.Helper()
	if bs := p.sessions[k]; bs != nil {
		return bs
	}
	bb, release := newBus(b, k)
	s, err := Start(context.Background(), p.c, bb, Batch(benchBatch), Timeout(time.Minute))
	if err != nil {
		release()
		b.Fatal(err)
	}
	bs := &benchSession{s: s, b: bb, release: func() { s.Close(); release() }}
	p.sessions[k] = bs
	p.runBatch(b, s)
	return bs
}

func (p *paperBench) runBatch(b *testing.B, s *Session) {
	if _, err := s.RunBatch(context.Background(), p.x); err != nil {
		b.Fatal(err)
	}
}

// reportTraffic adds the bus's traffic between two snapshots, per second
// of elapsed, to b's metrics: frames published (msg/s, MB/s) and delivered
// to subscriptions (recv-msg/s, recv-MB/s), and on NATS the bytes read
// from the connection (wire-MB/s).
func reportTraffic(b *testing.B, before, after bus.Stats, elapsed time.Duration) {
	sec := elapsed.Seconds()
	b.ReportMetric(float64(after.Sent.Msgs-before.Sent.Msgs)/sec, "msg/s")
	b.ReportMetric(float64(after.Sent.Bytes-before.Sent.Bytes)/sec/1e6, "MB/s")
	b.ReportMetric(float64(after.Received.Msgs-before.Received.Msgs)/sec, "recv-msg/s")
	b.ReportMetric(float64(after.Received.Bytes-before.Received.Bytes)/sec/1e6, "recv-MB/s")
	if w := after.Received.WireBytes - before.Received.WireBytes; w > 0 {
		b.ReportMetric(float64(w)/sec/1e6, "wire-MB/s")
	}
}

// BenchmarkRuntime is sync inference of the paper network (B=500, T=60) in
// the batched reference and in the actor runtime on every bus.
func BenchmarkRuntime(b *testing.B) {
	p := newPaperBench(b)
	defer p.close()
	b.Run("batched", func(b *testing.B) {
		p.batched(b) // warm up
		c0 := cpuTime()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			p.batched(b)
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-c0)/1e6/float64(b.N), "cpu-ms/op")
		b.ReportMetric(benchBatch*float64(b.N)/b.Elapsed().Seconds(), "img/s")
	})
	for _, k := range []benchBus{busInProc, busNATSMem, busNATSTCP} {
		b.Run(string(k), func(b *testing.B) {
			bs := p.actors(b, k)
			before := bs.b.Stats()
			c0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.runBatch(b, bs.s)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-c0)/1e6/float64(b.N), "cpu-ms/op")
			b.ReportMetric(benchBatch*float64(b.N)/b.Elapsed().Seconds(), "img/s")
			reportTraffic(b, before, bs.b.Stats(), b.Elapsed())
		})
	}
}

// BenchmarkRuntimeRatio alternates one batched and one actor batch per
// iteration and reports both throughputs and actors/batched: the ratio
// holds on a machine whose load changes during the run. Each batch ends
// with a garbage collection inside its timing, so that the garbage of one
// runtime does not slow the other.
func BenchmarkRuntimeRatio(b *testing.B) {
	p := newPaperBench(b)
	defer p.close()
	p.batched(b)
	for _, k := range []benchBus{busInProc, busNATSMem, busNATSTCP} {
		b.Run(string(k), func(b *testing.B) {
			bs := p.actors(b, k)
			before := bs.b.Stats()
			var tb, ta time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Each batch is charged a collection of its own garbage
				// (NATS decodes every frame into fresh memory), which would
				// otherwise slow the other runtime's next batch.
				t0 := time.Now()
				p.batched(b)
				runtime.GC()
				t1 := time.Now()
				p.runBatch(b, bs.s)
				runtime.GC()
				tb += t1.Sub(t0)
				ta += time.Since(t1)
			}
			b.StopTimer()
			n := float64(b.N) * benchBatch
			b.ReportMetric(n/tb.Seconds(), "batched-img/s")
			b.ReportMetric(n/ta.Seconds(), "img/s")
			b.ReportMetric(tb.Seconds()/ta.Seconds(), "ratio")
			reportTraffic(b, before, bs.b.Stats(), ta)
		})
	}
}

// BenchmarkSyncInProc is sync inference through in-process actors alone.
func BenchmarkSyncInProc(b *testing.B) {
	p := newPaperBench(b)
	defer p.close()
	bs := p.actors(b, busInProc)
	before := bs.b.Stats()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.runBatch(b, bs.s)
	}
	b.StopTimer()
	b.ReportMetric(benchBatch*float64(b.N)/b.Elapsed().Seconds(), "img/s")
	reportTraffic(b, before, bs.b.Stats(), b.Elapsed())
}
