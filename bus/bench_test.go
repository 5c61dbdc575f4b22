package bus

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

// Benchmark payloads: a mini-batch of B=500 maps, as in the paper's
// network (16×16 is layer 1, 32×32 the image layer).
var benchShapes = []struct {
	name    string
	b, h, w int
}{
	{"500x16x16", 500, 16, 16},
	{"500x32x32", 500, 32, 32},
}

// benchData are the payload kinds that matter for compression: dense
// float noise (errors, leaky-ReLU states) and a sparse image.
var benchData = []struct {
	name string
	gen  func(n int) []float32
}{
	{"noise", func(n int) []float32 { return noise(7, n) }},
	{"leakyrelu", func(n int) []float32 {
		p := noise(8, n)
		for i, v := range p {
			if v < 0 {
				p[i] = 0.01 * v
			}
		}
		return p
	}},
	{"sparse20", func(n int) []float32 { return sparse(9, n, 0.2) }},
}

func BenchmarkEncode(b *testing.B) {
	for _, s := range benchShapes {
		for _, d := range benchData {
			f := testFrame(s.b, s.h, s.w, d.gen(s.b*s.h*s.w))
			for _, c := range []Compression{CompressNone, CompressAuto, CompressSnappy} {
				b.Run(fmt.Sprintf("%s/%s/%v", s.name, d.name, c), func(b *testing.B) {
					buf, err := AppendFrame(nil, f, c)
					if err != nil {
						b.Fatal(err)
					}
					ratio := float64(len(buf)) / float64(f.WireSize())
					b.SetBytes(int64(4 * len(f.Payload)))
					b.ReportAllocs()
					for b.Loop() {
						buf, _ = AppendFrame(buf[:0], f, c)
					}
					b.ReportMetric(ratio, "wire/raw")
				})
			}
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, s := range benchShapes {
		for _, d := range benchData {
			f := testFrame(s.b, s.h, s.w, d.gen(s.b*s.h*s.w))
			for _, c := range []Compression{CompressNone, CompressSnappy} {
				buf, err := AppendFrame(nil, f, c)
				if err != nil {
					b.Fatal(err)
				}
				b.Run(fmt.Sprintf("%s/%s/%v", s.name, d.name, c), func(b *testing.B) {
					var dec Decoder
					var out Frame
					b.SetBytes(int64(4 * len(f.Payload)))
					b.ReportAllocs()
					for b.Loop() {
						if err := dec.DecodeInto(&out, buf); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkDecodeOwned is the NATS bus's receive path: the client's copy
// of the message (a copy into a reused buffer here) and in-place decoding,
// whose payload aliases that copy on little-endian hosts.
func BenchmarkDecodeOwned(b *testing.B) {
	for _, s := range benchShapes {
		f := testFrame(s.b, s.h, s.w, noise(7, s.b*s.h*s.w))
		for _, c := range []Compression{CompressNone, CompressSnappy} {
			enc, err := AppendFrame(nil, f, c)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/noise/%v", s.name, c), func(b *testing.B) {
				d := Decoder{}
				msg := make([]byte, len(enc))
				b.SetBytes(int64(4 * len(f.Payload)))
				b.ReportAllocs()
				for b.Loop() {
					copy(msg, enc)
					if _, err := d.decodeOwned(msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchPubSub publishes b.N frames from one goroutine and waits until a
// subscriber on another bus (or the same, in-process) has handled them all,
// with at most window frames in flight, and reports msgs/s.
func benchPubSub(b *testing.B, pub, sub Bus, f *Frame, window int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	credits := make(chan struct{}, window)
	if _, err := sub.Subscribe("bench.z.1.0", func(string, *Frame) { <-credits }, QueueLen(window+1), PendingBytes(math.MaxInt32)); err != nil {
		b.Fatal(err)
	}
	if err := sub.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(f.WireSize()))
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		credits <- struct{}{}
		if err := pub.Publish(ctx, "bench.z.1.0", f); err != nil {
			b.Fatal(err)
		}
	}
	for len(credits) > 0 { // wait for the last frames
		if ctx.Err() != nil {
			b.Fatal(ctx.Err())
		}
		time.Sleep(10 * time.Microsecond)
	}
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	if st := sub.Stats(); st.Dropped != 0 || st.Rejected != 0 {
		b.Fatalf("dropped %d, rejected %d", st.Dropped, st.Rejected)
	}
}

func BenchmarkInProcPubSub(b *testing.B) {
	bus, err := NewInProc()
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	f := testFrame(500, 16, 16, noise(1, 500*16*16))
	benchPubSub(b, bus, bus, f, 64)
}

func BenchmarkNATSPubSub(b *testing.B) {
	e, err := StartEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Shutdown()
	for _, tr := range []struct {
		name    string
		connect func(opts ...Option) (*NATS, error)
	}{
		{"tcp", func(opts ...Option) (*NATS, error) { return Connect(e.ClientURL(), opts...) }},
		{"inprocess", e.Connect},
	} {
		for _, d := range benchData[:1:1] {
			for _, c := range []Compression{CompressNone, CompressAuto} {
				b.Run(fmt.Sprintf("%s/500x16x16/%s/%v", tr.name, d.name, c), func(b *testing.B) {
					pub, err := tr.connect(WithCompression(c))
					if err != nil {
						b.Fatal(err)
					}
					defer pub.Close()
					sub, err := tr.connect()
					if err != nil {
						b.Fatal(err)
					}
					defer sub.Close()
					f := testFrame(500, 16, 16, d.gen(500*16*16))
					benchPubSub(b, pub, sub, f, 16)
				})
			}
		}
	}
}
