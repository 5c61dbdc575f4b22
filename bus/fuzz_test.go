package bus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

var fuzzLimits = Limits{MaxPayload: 1 << 16, MaxString: 64}

func addFrameSeeds(f *testing.F) {
	frames := []*Frame{
		testFrame(2, 4, 4, noise(1, 32)),
		testFrame(2, 4, 4, make([]float32, 32)),
		testFrame(1, 16, 16, sparse(2, 256, 0.2)),
		{Run: "r", Sender: "coord", Kind: KindControl, Step: 3},
		{Sender: "s", Shape: []int{2, 0}},
		{Run: "r", Sender: "nan", Shape: []int{2}, Payload: []float32{float32(math.NaN()), math.Float32frombits(0x7fc0beef)}},
		deltaFrame(2, 4, 4, &Delta{Seq: 3, Sparse: true, Index: []uint32{0, 5 | AbsBit, 31}}, []float32{0.5, -1, 2}),
		deltaFrame(2, 4, 4, &Delta{Seq: 0, Reset: true}, noise(3, 32)),
		deltaFrame(1, 16, 16, &Delta{Seq: 9, Sparse: true, Index: []uint32{}}, []float32{}),
		deltaFrame(1, 16, 16, sparseDelta(4, 256, 0.3), nil),
	}
	for _, fr := range frames {
		for _, c := range []Compression{CompressNone, CompressSnappy} {
			b, err := AppendFrame(nil, fr, c)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Add([]byte{})
	f.Add([]byte(frameMagic))
	f.Add(header{version: 1, sender: "big", ndims: 1, dims: []uint32{1 << 28}, rawLen: 1 << 30, storedLen: 1 << 30}.bytes())
	f.Add(append(header{version: 1, flags: flagSnappy, sender: "s", ndims: 1, dims: []uint32{2}, rawLen: 8, storedLen: 5}.bytes(), 0x80, 0x80, 0x80, 0x80, 0x04))
	f.Add(header{version: 1, flags: flagDelta, sender: "huge", ndims: 1, dims: []uint32{1 << 28}, dflags: deltaSparse, entries: 1 << 28, rawLen: 1 << 30, storedLen: 1 << 30}.bytes())
	f.Add(append(header{version: 1, flags: flagDelta, sender: "s", ndims: 1, dims: []uint32{4}, dflags: deltaSparse, entries: 1, rawLen: 5, storedLen: 5}.bytes(), 0x0c, 0, 0, 0, 0))
}

// FuzzDecode checks that Decode never panics, that what it accepts is a
// consistent frame, and that re-encoding it gives the same bytes (raw
// payloads) or an equal frame (snappy payloads: a snappy stream has many
// encodings, and ours is a fixpoint).
func FuzzDecode(f *testing.F) {
	addFrameSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The in-place decoder of the NATS bus must agree with Decode.
		d := Decoder{Limits: fuzzLimits}
		owned, oerr := d.decodeOwned(bytes.Clone(data))
		fr, err := Decode(data, fuzzLimits)
		if (err == nil) != (oerr == nil) || (err != nil && reason(err) != reason(oerr)) {
			t.Fatalf("Decode: %v; decodeOwned: %v", err, oerr)
		}
		if err == nil {
			sameFrame(t, owned, fr)
		}
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FrameError", err)
			}
			if reason(err) == "other" {
				t.Fatalf("error %v has no sentinel", err)
			}
			return
		}
		if err := fr.Validate(fuzzLimits); err != nil {
			t.Fatalf("decoded frame is invalid: %v", err)
		}
		h, err := DecodeHeader(data, fuzzLimits)
		if err != nil {
			t.Fatalf("Decode accepted, DecodeHeader rejected: %v", err)
		}
		if !h.Compressed {
			enc, err := AppendFrame(nil, fr, CompressNone)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, data) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", enc, data)
			}
			return
		}
		enc, err := AppendFrame(nil, fr, CompressSnappy)
		if err != nil {
			t.Fatal(err)
		}
		fr2, err := Decode(enc, fuzzLimits)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		sameFrame(t, fr2, fr)
		enc2, err := AppendFrame(nil, fr2, CompressSnappy)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not a fixpoint")
		}
	})
}

// FuzzRoundTrip checks that every frame AppendFrame accepts decodes to an
// identical frame.
func FuzzRoundTrip(f *testing.F) {
	f.Add("r1", "z.1.3", byte(1), uint64(7), []byte{2, 3}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}, byte(0))
	f.Add("", "", byte(4), uint64(0), []byte{}, []byte{}, byte(2))
	f.Add("r", "s", byte(255), uint64(math.MaxUint64), []byte{4}, make([]byte, 16), byte(2))
	f.Fuzz(func(t *testing.T, run, sender string, kind byte, step uint64, dims, payload []byte, comp byte) {
		fr := &Frame{Run: run, Sender: sender, Kind: Kind(kind), Step: step}
		for _, d := range dims {
			fr.Shape = append(fr.Shape, int(d))
		}
		for len(payload) >= 4 {
			fr.Payload = append(fr.Payload, math.Float32frombits(binary.LittleEndian.Uint32(payload)))
			payload = payload[4:]
		}
		c := Compression(comp % 3)
		enc, err := AppendFrame(nil, fr, c)
		if err != nil {
			if fr.Validate(Limits{MaxString: math.MaxUint16}) == nil {
				t.Fatalf("AppendFrame rejected a valid frame: %v", err)
			}
			return
		}
		got, err := Decode(enc, Limits{MaxString: math.MaxUint16})
		if err != nil {
			t.Fatalf("Decode of an encoded frame: %v", err)
		}
		sameFrame(t, got, fr)
	})
}
