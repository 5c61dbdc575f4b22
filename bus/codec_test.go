package bus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"
)

// noise returns n standard normal floats from a fixed seed.
func noise(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	p := make([]float32, n)
	for i := range p {
		p[i] = float32(r.NormFloat64())
	}
	return p
}

// sparse returns n floats of which about frac are non-zero (like an MNIST
// image or a saturated map).
func sparse(seed uint64, n int, frac float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	p := make([]float32, n)
	for i := range p {
		if r.Float64() < frac {
			p[i] = float32(r.Float64())
		}
	}
	return p
}

func testFrame(b, h, w int, payload []float32) *Frame {
	return &Frame{Run: "r1", Sender: "z.1.3", Kind: KindState, Step: 42, Shape: []int{b, h, w}, Payload: payload}
}

// sameFrame compares frames bit for bit (NaN payloads included).
func sameFrame(t *testing.T, got, want *Frame) {
	t.Helper()
	if got.Run != want.Run || got.Sender != want.Sender || got.Kind != want.Kind || got.Step != want.Step {
		t.Fatalf("header: got %q %q %v %d, want %q %q %v %d",
			got.Run, got.Sender, got.Kind, got.Step, want.Run, want.Sender, want.Kind, want.Step)
	}
	if len(got.Shape) != len(want.Shape) {
		t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := range got.Shape {
		if got.Shape[i] != want.Shape[i] {
			t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
		}
	}
	if (got.Delta == nil) != (want.Delta == nil) {
		t.Fatalf("delta %+v, want %+v", got.Delta, want.Delta)
	}
	if d, w := got.Delta, want.Delta; d != nil {
		if d.Seq != w.Seq || d.Reset != w.Reset || d.Sparse != w.Sparse || !slices.Equal(d.Index, w.Index) {
			t.Fatalf("delta %+v, want %+v", d, w)
		}
	}
	if len(got.Payload) != len(want.Payload) {
		t.Fatalf("payload of %d floats, want %d", len(got.Payload), len(want.Payload))
	}
	for i := range got.Payload {
		if math.Float32bits(got.Payload[i]) != math.Float32bits(want.Payload[i]) {
			t.Fatalf("payload[%d] bits %#08x, want %#08x", i,
				math.Float32bits(got.Payload[i]), math.Float32bits(want.Payload[i]))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	special := []float32{
		0, float32(math.Copysign(0, -1)), 1, -1, math.MaxFloat32, math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), // quiet NaN with payload bits
		math.Float32frombits(0xffbfffff), // negative signalling NaN
		math.Float32frombits(0x7f800001), // signalling NaN
	}
	tests := []struct {
		name string
		f    *Frame
	}{
		{"noise 500x16x16", testFrame(500, 16, 16, noise(1, 500*16*16))},
		{"sparse 8x32x32", testFrame(8, 32, 32, sparse(2, 8*32*32, 0.1))},
		{"zeros 4x8x8", testFrame(4, 8, 8, make([]float32, 256))},
		{"special values", &Frame{Run: "r", Sender: "s", Kind: KindProbe, Shape: []int{len(special)}, Payload: special}},
		{"control, no payload", &Frame{Run: "r", Sender: "coord", Kind: KindControl, Step: math.MaxUint64}},
		{"empty dim", &Frame{Run: "r", Sender: "s", Kind: KindOutput, Shape: []int{0, 3}}},
		{"4 dims", &Frame{Run: "r", Sender: "s", Kind: KindWeights, Shape: []int{2, 3, 3, 3}, Payload: noise(3, 54)}},
		{"open kind, unicode", &Frame{Run: "ρ", Sender: "état", Kind: 200, Shape: []int{1}, Payload: []float32{7}}},
		{"empty strings", &Frame{Shape: []int{2}, Payload: []float32{1, 2}}},
	}
	for _, tt := range tests {
		for _, c := range []Compression{CompressAuto, CompressNone, CompressSnappy} {
			t.Run(tt.name+"/"+c.String(), func(t *testing.T) {
				prefix := []byte("prefix")
				buf, err := AppendFrame(prefix, tt.f, c)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf[:len(prefix)], []byte("prefix")) {
					t.Fatal("AppendFrame overwrote the prefix")
				}
				data := buf[len(prefix):]
				got, err := Decode(data, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				sameFrame(t, got, tt.f)
				h, err := DecodeHeader(data, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if h.Size+h.StoredLen != len(data) || h.PayloadLen != 4*len(tt.f.Payload) || h.Size != tt.f.HeaderSize() {
					t.Fatalf("header %+v for %d-byte frame", h, len(data))
				}
				if c == CompressNone && h.Compressed {
					t.Fatal("CompressNone stored a compressed payload")
				}
				if h.StoredLen > h.PayloadLen {
					t.Fatalf("stored %d > raw %d", h.StoredLen, h.PayloadLen)
				}
				// Re-encoding the decoded frame gives the same bytes.
				again, err := AppendFrame(nil, got, c)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, data) {
					t.Fatal("re-encoding differs")
				}
			})
		}
	}
}

func TestCompressionChoice(t *testing.T) {
	n := 64 * 16 * 16
	tests := []struct {
		name    string
		payload []float32
		c       Compression
		want    bool // compressed
	}{
		{"noise auto", noise(1, n), CompressAuto, false},
		{"noise none", noise(1, n), CompressNone, false},
		{"zeros auto", make([]float32, n), CompressAuto, true},
		{"sparse auto", sparse(1, n, 0.05), CompressAuto, true},
		{"zeros none", make([]float32, n), CompressNone, false},
		{"zeros snappy", make([]float32, n), CompressSnappy, true},
	}
	// Payloads of 256 KiB or more: CompressAuto judges by the first 64 KiB.
	big := 64 * 32 * 32
	denseHead := make([]float32, big)
	copy(denseHead, noise(3, 16<<10))
	sparseHead := noise(4, big)
	clear(sparseHead[:16<<10])
	tests = append(tests, []struct {
		name    string
		payload []float32
		c       Compression
		want    bool
	}{
		{"dense head auto", denseHead, CompressAuto, false},
		{"dense head snappy", denseHead, CompressSnappy, true},
		{"zero head, noise tail auto", sparseHead, CompressAuto, true}, // probe passes, whole frame still saves 24%
		{"sparse big auto", sparse(5, big, 0.1), CompressAuto, true},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf, err := AppendFrame(nil, testFrame(len(tt.payload)/256, 16, 16, tt.payload), tt.c)
			if err != nil {
				t.Fatal(err)
			}
			h, err := DecodeHeader(buf, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if h.Compressed != tt.want {
				t.Fatalf("compressed = %v (%d of %d bytes), want %v", h.Compressed, h.StoredLen, h.PayloadLen, tt.want)
			}
			t.Logf("%s: stored %d of %d bytes (%.1f%%)", tt.name, h.StoredLen, h.PayloadLen, 100*float64(h.StoredLen)/float64(h.PayloadLen))
		})
	}
}

func TestAppendFrameErrors(t *testing.T) {
	long := string(make([]byte, math.MaxUint16+1))
	tests := []struct {
		name string
		f    *Frame
		want error
	}{
		{"nil", nil, ErrNilFrame},
		{"shape product", &Frame{Shape: []int{2, 3}, Payload: make([]float32, 5)}, ErrShape},
		{"payload without shape", &Frame{Payload: make([]float32, 1)}, ErrShape},
		{"too many dims", &Frame{Shape: []int{1, 1, 1, 1, 1}, Payload: make([]float32, 1)}, ErrShape},
		{"negative dim", &Frame{Shape: []int{-1, -1}, Payload: make([]float32, 1)}, ErrShape},
		{"overflowing dims", &Frame{Shape: []int{1 << 30, 1 << 30, 1 << 30, 4}, Payload: make([]float32, 4)}, ErrShape},
		{"long run", &Frame{Run: long}, ErrFrameTooLarge},
		{"long sender", &Frame{Sender: long}, ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			got, err := AppendFrame(dst, tt.f, CompressAuto)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if len(got) != 3 {
				t.Fatalf("dst changed to %d bytes on error", len(got))
			}
		})
	}
}

func TestValidate(t *testing.T) {
	lim := Limits{MaxPayload: 1024, MaxString: 8}
	tests := []struct {
		name string
		f    *Frame
		want error
	}{
		{"ok", &Frame{Run: "r", Sender: "s", Shape: []int{16, 16}, Payload: make([]float32, 256)}, nil},
		{"nil", nil, ErrNilFrame},
		{"payload over limit", &Frame{Shape: []int{257}, Payload: make([]float32, 257)}, ErrFrameTooLarge},
		{"run over limit", &Frame{Run: "123456789"}, ErrFrameTooLarge},
		{"sender over limit", &Frame{Sender: "123456789"}, ErrFrameTooLarge},
		{"shape", &Frame{Shape: []int{3}, Payload: make([]float32, 2)}, ErrShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate(lim)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

// header builds a frame header by hand, with a correct header CRC, so that
// tests can declare sizes no encoder would write.
type header struct {
	version, flags, kind, ndims byte
	run, sender                 string
	dims                        []uint32
	rawLen, storedLen, pcrc     uint32
	badHeaderCRC                bool
	// A delta frame's header fields, written when flags has flagDelta.
	seq, entries uint32
	dflags       byte
}

func (h header) bytes() []byte {
	b := []byte(frameMagic)
	b = append(b, h.version, h.flags, h.kind, h.ndims)
	b = binary.LittleEndian.AppendUint64(b, 7)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h.run)))
	b = append(b, h.run...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h.sender)))
	b = append(b, h.sender...)
	for _, d := range h.dims {
		b = binary.LittleEndian.AppendUint32(b, d)
	}
	if h.flags&flagDelta != 0 {
		b = binary.LittleEndian.AppendUint32(b, h.seq)
		b = append(b, h.dflags)
		b = binary.LittleEndian.AppendUint32(b, h.entries)
	}
	b = binary.LittleEndian.AppendUint32(b, h.rawLen)
	b = binary.LittleEndian.AppendUint32(b, h.storedLen)
	b = binary.LittleEndian.AppendUint32(b, h.pcrc)
	crc := crc32.Checksum(b, castagnoli)
	if h.badHeaderCRC {
		crc++
	}
	return binary.LittleEndian.AppendUint32(b, crc)
}

func TestDecodeCorrupt(t *testing.T) {
	f := testFrame(2, 4, 4, noise(5, 32))
	good, err := AppendFrame(nil, f, CompressNone)
	if err != nil {
		t.Fatal(err)
	}
	zeros := testFrame(2, 4, 4, make([]float32, 32))
	goodSnappy, err := AppendFrame(nil, zeros, CompressSnappy)
	if err != nil {
		t.Fatal(err)
	}
	hsz := f.HeaderSize()
	mod := func(src []byte, fn func(b []byte) []byte) []byte {
		return fn(append([]byte(nil), src...))
	}
	gig := uint32(1 << 30)
	tests := []struct {
		name       string
		data       []byte
		want       error
		wantSender string
	}{
		{"empty", nil, ErrTruncated, ""},
		{"magic prefix", []byte("NG"), ErrTruncated, ""},
		{"bad magic", mod(good, func(b []byte) []byte { b[0] = 'X'; return b }), ErrMagic, ""},
		{"short garbage", []byte("hello"), ErrMagic, ""},
		{"bad version", mod(good, func(b []byte) []byte { b[4] = 9; return b }), ErrVersion, ""},
		{"unknown flag", header{version: 1, flags: 0x80, sender: "s1"}.bytes(), ErrVersion, "s1"},
		{"cut in fixed header", good[:10], ErrTruncated, ""},
		{"cut in run", good[:19], ErrTruncated, ""},
		{"cut in sender", good[:23], ErrTruncated, ""},
		{"cut after sender", good[:hsz-10], ErrTruncated, "z.1.3"},
		{"cut in payload", good[:len(good)-1], ErrTruncated, "z.1.3"},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrCorrupt, "z.1.3"},
		{"header CRC", mod(good, func(b []byte) []byte { b[8]++; return b }), ErrChecksum, "z.1.3"},
		{"payload CRC", mod(good, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrChecksum, "z.1.3"},
		{"snappy payload CRC", mod(goodSnappy, func(b []byte) []byte {
			// Re-stamp a different payload CRC with a valid header CRC.
			binary.LittleEndian.PutUint32(b[hsz-8:], 12345)
			binary.LittleEndian.PutUint32(b[hsz-4:], crc32.Checksum(b[:hsz-4], castagnoli))
			return b
		}), ErrChecksum, "z.1.3"},
		{"bad snappy", mod(goodSnappy, func(b []byte) []byte {
			for i := hsz + 1; i < len(b); i++ {
				b[i] = 0xff
			}
			return b
		}), ErrCorrupt, "z.1.3"},
		{"too many dims", header{version: 1, ndims: 5, sender: "s2"}.bytes(), ErrShape, "s2"},
		{"run over limit", header{version: 1, run: string(make([]byte, 300))}.bytes(), ErrFrameTooLarge, ""},
		{"sender over limit", header{version: 1, sender: string(make([]byte, 300))}.bytes(), ErrFrameTooLarge, ""},
		{"1 GiB payload", header{version: 1, sender: "big", ndims: 1, dims: []uint32{gig / 4}, rawLen: gig, storedLen: gig}.bytes(), ErrFrameTooLarge, "big"},
		{"1 GiB declared, tiny shape", header{version: 1, sender: "big", ndims: 1, dims: []uint32{1}, rawLen: gig, storedLen: 4}.bytes(), ErrFrameTooLarge, "big"},
		{"huge dims product", header{version: 1, sender: "big", ndims: 4, dims: []uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32, 2}, rawLen: 8}.bytes(), ErrFrameTooLarge, "big"},
		{"dims product overflows to small", header{version: 1, sender: "ovf", ndims: 4, dims: []uint32{1 << 16, 1 << 16, 1 << 16, 1 << 16}, rawLen: 0}.bytes(), ErrFrameTooLarge, "ovf"},
		{"shape vs length", header{version: 1, sender: "s3", ndims: 1, dims: []uint32{3}, rawLen: 8, storedLen: 8}.bytes(), ErrShape, "s3"},
		{"raw stored length", header{version: 1, sender: "s4", ndims: 1, dims: []uint32{2}, rawLen: 8, storedLen: 7}.bytes(), ErrCorrupt, "s4"},
		{"snappy larger than raw", header{version: 1, flags: flagSnappy, sender: "s5", ndims: 1, dims: []uint32{2}, rawLen: 8, storedLen: 9}.bytes(), ErrCorrupt, "s5"},
		{"1 GiB in snappy block", append(header{version: 1, flags: flagSnappy, sender: "s6", ndims: 1, dims: []uint32{2}, rawLen: 8, storedLen: 5}.bytes(),
			0x80, 0x80, 0x80, 0x80, 0x04), ErrCorrupt, "s6"},
		{"bad header CRC", header{version: 1, sender: "s7", badHeaderCRC: true}.bytes(), ErrChecksum, "s7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, Limits{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("err %T is not a *FrameError", err)
			}
			if fe.Sender != tt.wantSender {
				t.Fatalf("sender %q, want %q (err %v)", fe.Sender, tt.wantSender, err)
			}
			if reason(err) == "other" {
				t.Fatalf("reason of %v is other", err)
			}
			// The NATS bus's in-place decoder rejects the same way.
			var d Decoder
			if fr, err := d.decodeOwned(append([]byte(nil), tt.data...)); !errors.Is(err, tt.want) || fr != nil {
				t.Fatalf("decodeOwned: err = %v, want %v", err, tt.want)
			} else if !errors.As(err, &fe) || fe.Sender != tt.wantSender {
				t.Fatalf("decodeOwned: err %v, want a *FrameError from %q", err, tt.wantSender)
			}
			if _, err := DecodeHeader(tt.data, Limits{}); err == nil && !errors.Is(tt.want, ErrChecksum) && !errors.Is(tt.want, ErrCorrupt) {
				t.Fatalf("DecodeHeader accepted what Decode rejects with %v", tt.want)
			}
		})
	}
}

// TestDecodeHugeDeclaredAllocatesNothing checks that frames declaring huge
// sizes fail before allocating: a 1 GiB declaration costs no more than the
// error value.
func TestDecodeHugeDeclaredAllocatesNothing(t *testing.T) {
	gig := uint32(1 << 30)
	inputs := map[string][]byte{
		"raw 1 GiB":    header{version: 1, sender: "big", ndims: 1, dims: []uint32{gig / 4}, rawLen: gig, storedLen: gig}.bytes(),
		"snappy 1 GiB": header{version: 1, flags: flagSnappy, sender: "big", ndims: 1, dims: []uint32{gig / 4}, rawLen: gig, storedLen: 5}.bytes(),
		"dims 2^64":    header{version: 1, sender: "big", ndims: 4, dims: []uint32{1 << 16, 1 << 16, 1 << 16, 1 << 16}}.bytes(),
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := d.Decode(data); !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("err = %v", err)
				}
			})
			runtime.ReadMemStats(&after)
			if perRun := (after.TotalAlloc - before.TotalAlloc) / 101; perRun > 1<<10 {
				t.Fatalf("decoding allocated %d bytes per run", perRun)
			}
			if allocs > 16 { // the *FrameError and its formatted message
				t.Fatalf("%v allocations per decode", allocs)
			}
		})
	}
}

func TestSmallLimits(t *testing.T) {
	f := testFrame(1, 16, 16, noise(1, 256))
	data, err := AppendFrame(nil, f, CompressNone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data, Limits{MaxPayload: 1023}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if _, err := Decode(data, Limits{MaxPayload: 1024}); err != nil {
		t.Fatalf("payload at the limit: %v", err)
	}
	if _, err := Decode(data, Limits{MaxString: 4}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge for a 5-byte sender", err)
	}
	if n := (Limits{}).MaxFrameSize(); n <= DefaultMaxPayload || n > DefaultServerMaxPayload {
		t.Fatalf("default MaxFrameSize %d does not fit the embedded server's %d", n, DefaultServerMaxPayload)
	}
}

func TestDecodeIntoReuses(t *testing.T) {
	frames := []*Frame{
		testFrame(4, 8, 8, noise(1, 256)),
		testFrame(4, 8, 8, sparse(2, 256, 0.1)),
		testFrame(2, 8, 8, noise(3, 128)),
	}
	var bufs [][]byte
	for _, f := range frames {
		b, err := AppendFrame(nil, f, CompressAuto)
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
	allocs := testing.AllocsPerRun(50, func() {
		for _, b := range bufs {
			if err := d.DecodeInto(&f, b); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("DecodeInto steady state: %v allocations", allocs)
	}
}

func TestAppendFrameSteadyStateAllocs(t *testing.T) {
	for _, c := range []Compression{CompressNone, CompressAuto, CompressSnappy} {
		f := testFrame(16, 16, 16, noise(1, 16*16*16))
		buf, err := AppendFrame(nil, f, c)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			buf, err = AppendFrame(buf[:0], f, c)
			if err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Fatalf("%v: %v allocations per encode", c, allocs)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindState: "state", KindError: "error", KindProbe: "probe", 0: "kind(0)", 99: "kind(99)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

func TestClone(t *testing.T) {
	f := testFrame(1, 2, 2, []float32{1, 2, 3, 4})
	c := f.Clone()
	c.Payload[0] = 9
	c.Shape[0] = 7
	if f.Payload[0] != 1 || f.Shape[0] != 1 {
		t.Fatal("Clone shares memory")
	}
	if (*Frame)(nil).Clone() != nil {
		t.Fatal("nil Clone")
	}
}

// TestFloatConversions checks the conversions compiled for this host
// (single copies on little-endian hosts) against the portable per-float
// ones, on special values and on unaligned byte buffers.
func TestFloatConversions(t *testing.T) {
	p := append(noise(3, 1001), 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffbfffff), math.SmallestNonzeroFloat32)
	want := make([]byte, 4*len(p))
	putFloatsPortable(want, p)
	for off := range 4 { // dst and src at every alignment
		buf := make([]byte, off+len(want))
		putFloats(buf[off:], p)
		if !bytes.Equal(buf[off:], want) {
			t.Fatalf("offset %d: putFloats differs from the portable conversion", off)
		}
		got := make([]float32, len(p))
		getFloats(got, buf[off:])
		ref := make([]float32, len(p))
		getFloatsPortable(ref, buf[off:])
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(p[i]) || math.Float32bits(ref[i]) != math.Float32bits(p[i]) {
				t.Fatalf("offset %d: float %d bits %#08x (portable %#08x), want %#08x", off, i,
					math.Float32bits(got[i]), math.Float32bits(ref[i]), math.Float32bits(p[i]))
			}
		}
	}
}

// TestDecodeOwned checks the NATS bus's in-place decoding: every payload
// alignment (the sender's length moves it), raw and snappy payloads, and on
// little-endian hosts that a raw payload uses the received buffer itself.
func TestDecodeOwned(t *testing.T) {
	for _, sender := range []string{"e", "z.1", "z.1.", "z.1.3", "z.1.12", "coordinator"} {
		for _, tc := range []struct {
			c Compression
			p []float32
		}{{CompressNone, noise(4, 2*16*16)}, {CompressSnappy, sparse(4, 2*16*16, 0.1)}, {CompressNone, nil}} {
			f := &Frame{Run: "r1", Sender: sender, Kind: KindError, Step: 9, Shape: []int{2, 16, 16}, Payload: tc.p}
			if tc.p == nil {
				f.Shape = nil
			}
			enc, err := AppendFrame(nil, f, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			h, err := DecodeHeader(enc, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if h.Compressed != (tc.c == CompressSnappy) {
				t.Fatalf("%q %v: compressed %v", sender, tc.c, h.Compressed)
			}
			for off := range 4 { // the message buffer at every alignment
				data := append(make([]byte, off, off+len(enc)), enc...)[off:]
				var d Decoder
				got, err := d.decodeOwned(data)
				if err != nil {
					t.Fatalf("%q %v offset %d: %v", sender, tc.c, off, err)
				}
				sameFrame(t, got, f)
				if len(got.Payload) > 0 && cap(got.Payload) != len(got.Payload) {
					t.Fatalf("payload capacity %d beyond its %d floats", cap(got.Payload), len(got.Payload))
				}
				aliased := len(got.Payload) > 0 && uintptr(unsafe.Pointer(&got.Payload[0])) >= uintptr(unsafe.Pointer(&data[0])) &&
					uintptr(unsafe.Pointer(&got.Payload[0])) < uintptr(unsafe.Pointer(&data[0]))+uintptr(len(data))
				if wantAlias := nativeLittleEndian && !h.Compressed && len(tc.p) > 0; aliased != wantAlias {
					t.Fatalf("%q %v offset %d: payload aliases the message %v, want %v", sender, tc.c, off, aliased, wantAlias)
				}
			}
		}
	}
}
