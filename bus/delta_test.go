package bus

import (
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// deltaFrame is a delta frame of a b×h×w map; a nil payload keeps the one
// sparseDelta made (see there).
func deltaFrame(b, h, w int, d *Delta, payload []float32) *Frame {
	if payload == nil {
		payload = sparsePayload[d]
	}
	return &Frame{Run: "r1", Sender: "e.0.2", Kind: KindError, Step: 7, Shape: []int{b, h, w}, Delta: d, Payload: payload}
}

// sparsePayload remembers the values sparseDelta drew for its deltas.
var sparsePayload = map[*Delta][]float32{}

// sparseDelta lists about frac of n units, some as new values.
func sparseDelta(seed uint64, n int, frac float64) *Delta {
	r := rand.New(rand.NewPCG(seed, 3))
	d := &Delta{Seq: uint32(seed), Sparse: true, Index: []uint32{}}
	var p []float32
	for u := 0; u < n; u++ {
		if r.Float64() < frac {
			ix := uint32(u)
			if r.IntN(8) == 0 {
				ix |= AbsBit
			}
			d.Index = append(d.Index, ix)
			p = append(p, float32(r.NormFloat64()))
		}
	}
	sparsePayload[d] = p
	return d
}

func TestDeltaRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    *Frame
	}{
		{"full reset", deltaFrame(2, 4, 4, &Delta{Seq: 0, Reset: true}, noise(1, 32))},
		{"full", deltaFrame(2, 4, 4, &Delta{Seq: 1}, noise(2, 32))},
		{"sparse", deltaFrame(4, 16, 16, sparseDelta(3, 1024, 0.05), nil)},
		{"sparse dense", deltaFrame(4, 16, 16, sparseDelta(4, 1024, 0.9), nil)},
		{"sparse reset", deltaFrame(1, 2, 2, &Delta{Seq: 5, Reset: true, Sparse: true, Index: []uint32{0 | AbsBit, 3}}, []float32{1, -2})},
		{"empty", deltaFrame(1, 8, 8, &Delta{Seq: math.MaxUint32, Sparse: true, Index: []uint32{}}, []float32{})},
		{"last unit", deltaFrame(1, 8, 8, &Delta{Seq: 2, Sparse: true, Index: []uint32{63 | AbsBit}}, []float32{float32(math.Inf(-1))})},
	}
	for _, tt := range tests {
		for _, c := range []Compression{CompressNone, CompressAuto, CompressSnappy} {
			t.Run(tt.name+"/"+c.String(), func(t *testing.T) {
				if err := tt.f.Validate(Limits{}); err != nil {
					t.Fatal(err)
				}
				enc, err := AppendFrame(nil, tt.f, c)
				if err != nil {
					t.Fatal(err)
				}
				if c == CompressNone && len(enc) != tt.f.WireSize() {
					t.Fatalf("encoded %d bytes, WireSize %d", len(enc), tt.f.WireSize())
				}
				got, err := Decode(enc, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				sameFrame(t, got, tt.f)
				h, err := DecodeHeader(enc, Limits{})
				if err != nil || h.Delta == nil || h.Delta.Seq != tt.f.Delta.Seq || h.Entries != len(tt.f.Payload) {
					t.Fatalf("header %+v, %v", h, err)
				}
				var d Decoder
				owned, err := d.decodeOwned(enc)
				if err != nil {
					t.Fatal(err)
				}
				sameFrame(t, owned, tt.f)
				sameFrame(t, tt.f.Clone(), tt.f)
			})
		}
	}
}

// TestDeltaSparseIsSmall checks the point of sparse frames: a frame that
// lists few units is a small fraction of the whole map's.
func TestDeltaSparseIsSmall(t *testing.T) {
	d := sparseDelta(7, 500*16*16, 0.02)
	f := deltaFrame(500, 16, 16, d, nil)
	dense := testFrame(500, 16, 16, noise(1, 500*16*16))
	if got, whole := f.WireSize(), dense.WireSize(); got*10 > whole {
		t.Fatalf("sparse frame of %d entries takes %d bytes, the whole map %d", len(f.Payload), got, whole)
	}
	if got := f.WireSize() - f.HeaderSize(); got < 5*len(f.Payload) || got > 6*len(f.Payload) {
		t.Fatalf("%d entries take %d bytes, want 5 to 6 each", len(f.Payload), got)
	}
}

func TestDeltaRejected(t *testing.T) {
	bad := []struct {
		name string
		f    *Frame
		want error
	}{
		{"unsorted", deltaFrame(1, 2, 2, &Delta{Sparse: true, Index: []uint32{2, 1}}, []float32{1, 2}), ErrShape},
		{"duplicate", deltaFrame(1, 2, 2, &Delta{Sparse: true, Index: []uint32{1, 1 | AbsBit}}, []float32{1, 2}), ErrShape},
		{"beyond", deltaFrame(1, 2, 2, &Delta{Sparse: true, Index: []uint32{4}}, []float32{1}), ErrShape},
		{"counts", deltaFrame(1, 2, 2, &Delta{Sparse: true, Index: []uint32{0, 1}}, []float32{1}), ErrShape},
		{"full count", deltaFrame(1, 2, 2, &Delta{}, []float32{1, 2, 3}), ErrShape},
		{"full index", deltaFrame(1, 2, 2, &Delta{Index: []uint32{0}}, []float32{1, 2, 3, 4}), ErrShape},
		{"no shape", &Frame{Sender: "s", Delta: &Delta{Sparse: true}}, ErrShape},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(Limits{}); !errors.Is(err, tt.want) {
				t.Fatalf("Validate: %v, want %v", err, tt.want)
			}
			if _, err := AppendFrame(nil, tt.f, CompressNone); !errors.Is(err, tt.want) {
				t.Fatalf("AppendFrame: %v, want %v", err, tt.want)
			}
		})
	}
	if err := deltaFrame(1, 32, 32, sparseDelta(2, 1024, 0.5), nil).Validate(Limits{MaxPayload: 1024}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Validate under a small limit: %v", err)
	}
}

// craft encodes a sparse delta frame's header and body by hand, with
// correct checksums, so that tests can declare what no encoder writes.
func craft(units, entries uint32, dflags byte, body []byte) []byte {
	h := header{version: 1, flags: flagDelta, sender: "e.1.4", ndims: 1, dims: []uint32{units}, dflags: dflags,
		entries: entries, rawLen: uint32(len(body)), storedLen: uint32(len(body)), pcrc: crc(body)}
	return append(h.bytes(), body...)
}

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func TestDeltaDecodeCorrupt(t *testing.T) {
	f32 := []byte{0, 0, 128, 63} // 1.0
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"index beyond", craft(4, 1, deltaSparse, append([]byte{8}, f32...)), ErrShape},
		{"gap overflow", craft(4, 1, deltaSparse, append([]byte{0xfe, 0xff, 0xff, 0xff, 0x0f}, f32...)), ErrShape},
		{"overlong varint", craft(4, 1, deltaSparse, append([]byte{0x82, 0x00}, append(f32, 0, 0, 0)...)), ErrCorrupt},
		{"bad varint", craft(4, 1, deltaSparse, []byte{0x80, 0x80, 0x80, 0x80, 0x80}), ErrCorrupt},
		{"values do not fill", craft(4, 2, deltaSparse, append([]byte{0, 0, 0, 0, 0, 0, 0}, f32...)), ErrCorrupt},
		{"too short", craft(4, 2, deltaSparse, []byte{0, 0, 0, 0}), ErrCorrupt},
		{"more entries than units", craft(1, 2, deltaSparse, append(append([]byte{0, 0}, f32...), f32...)), ErrShape},
		{"unknown flags", craft(4, 1, deltaSparse|0x10, append([]byte{0}, f32...)), ErrVersion},
		{"full short", craft(4, 3, 0, append(append(f32, f32...), f32...)), ErrShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, Limits{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var fe *FrameError
			if !errors.As(err, &fe) || fe.Sender != "e.1.4" {
				t.Fatalf("error %v does not name the sender", err)
			}
		})
	}
}

// TestDeltaHugeDeclaredAllocatesNothing: a delta frame that declares a huge
// index list fails before allocating it.
func TestDeltaHugeDeclaredAllocatesNothing(t *testing.T) {
	inputs := map[string][]byte{
		"entries over the limit": header{version: 1, flags: flagDelta, sender: "big", ndims: 1, dims: []uint32{1 << 24},
			dflags: deltaSparse, entries: 1 << 24, rawLen: 5 << 24, storedLen: 5 << 24}.bytes(),
		"body over the limit": header{version: 1, flags: flagDelta | flagSnappy, sender: "big", ndims: 1, dims: []uint32{1 << 26},
			dflags: deltaSparse, entries: 1 << 20, rawLen: 1 << 30, storedLen: 5}.bytes(),
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			allocs := testing.AllocsPerRun(50, func() {
				if _, err := d.Decode(data); !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("err = %v", err)
				}
			})
			runtime.ReadMemStats(&after)
			if perRun := (after.TotalAlloc - before.TotalAlloc) / 51; perRun > 1<<10 {
				t.Fatalf("decoding allocated %d bytes per run", perRun)
			}
			if allocs > 16 {
				t.Fatalf("%v allocations per decode", allocs)
			}
		})
	}
}

func TestDeltaDecodeIntoReuses(t *testing.T) {
	frames := []*Frame{
		deltaFrame(4, 8, 8, sparseDelta(1, 256, 0.3), nil),
		deltaFrame(4, 8, 8, &Delta{Seq: 2}, noise(2, 256)),
		testFrame(4, 8, 8, noise(3, 256)),
		deltaFrame(4, 8, 8, sparseDelta(4, 256, 0.6), nil),
	}
	var bufs [][]byte
	for _, f := range frames {
		b, err := AppendFrame(nil, f, CompressSnappy)
		if err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, b)
	}
	var d Decoder
	var f Frame
	for i := range frames {
		if err := d.DecodeInto(&f, bufs[i]); err != nil {
			t.Fatal(err)
		}
		sameFrame(t, &f, frames[i])
	}
}

// FuzzDeltaFrame builds sparse delta frames from arbitrary bytes (each
// byte a gap, its low bit the absolute mark) and checks that whatever
// AppendFrame accepts decodes to the same frame, that a decoded frame
// never holds more entries than its map has units, and that every error is
// a *FrameError naming the sender.
func FuzzDeltaFrame(f *testing.F) {
	f.Add(uint16(64), []byte{0, 2, 5, 1}, uint32(3), true, byte(0))
	f.Add(uint16(1), []byte{}, uint32(0), false, byte(2))
	f.Add(uint16(300), []byte{255, 255, 3}, uint32(1<<31), true, byte(1))
	f.Fuzz(func(t *testing.T, units uint16, gaps []byte, seq uint32, reset bool, comp byte) {
		d := &Delta{Seq: seq, Reset: reset, Sparse: true, Index: []uint32{}}
		var p []float32
		u := -1
		for k, g := range gaps {
			u += 1 + int(g>>1)
			if u >= int(units) {
				break
			}
			ix := uint32(u)
			if g&1 != 0 {
				ix |= AbsBit
			}
			d.Index = append(d.Index, ix)
			p = append(p, float32(k)-0.5)
		}
		fr := &Frame{Run: "r", Sender: "z.2.1", Kind: KindState, Shape: []int{int(units)}, Delta: d, Payload: p}
		enc, err := AppendFrame(nil, fr, Compression(comp%3))
		if err != nil {
			t.Fatalf("AppendFrame: %v", err)
		}
		got, err := Decode(enc, fuzzLimits)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || fe.Sender != "z.2.1" || !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("Decode: %v", err)
			}
			return
		}
		sameFrame(t, got, fr)
		if len(got.Payload) > int(units) || len(got.Delta.Index) != len(got.Payload) {
			t.Fatalf("%d entries for %d units", len(got.Payload), units)
		}
		// Damage one byte: the result is either rejected with a
		// *FrameError or a valid frame.
		for _, at := range []int{len(enc) / 3, len(enc) - 1} {
			bad := append([]byte(nil), enc...)
			bad[at] ^= 0x5a
			g, err := Decode(bad, fuzzLimits)
			if err != nil {
				var fe *FrameError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a *FrameError", err)
				}
				continue
			}
			if err := g.Validate(fuzzLimits); err != nil {
				t.Fatalf("damaged frame decoded to an invalid one: %v", err)
			}
		}
	})
}
