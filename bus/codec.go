package bus

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"

	"github.com/golang/snappy"
)

// Wire format, version 1. All fixed-width fields are little-endian.
//
//	offset  size  field
//	0       4     magic "NGCF"
//	4       1     version (1)
//	5       1     flags (bit 0: payload is snappy-compressed; bit 1: a delta
//	              frame; others must be 0)
//	6       1     kind
//	7       1     ndims (0..MaxDims)
//	8       8     step
//	16      2     len(run), then run bytes
//	.       2     len(sender), then sender bytes
//	.       4·nd  dims, uint32 each
//	              delta frames only (Delta):
//	.       4       seq
//	.       1       delta flags (bit 0: reset; bit 1: sparse; others must be 0)
//	.       4       entries: floats in the payload (= product(dims) unless sparse)
//	.       4     uncompressed payload length in bytes (= 4·product(dims),
//	              or the delta body's length)
//	.       4     stored payload length in bytes (≤ uncompressed length)
//	.       4     CRC-32C (Castagnoli) of the uncompressed payload bytes
//	.       4     CRC-32C of every header byte before this field
//	.       …     stored payload: little-endian float32s, snappy block if flagged
//
// The payload of a sparse delta frame starts with its index list, one
// unsigned varint per entry: (unit − previous unit − 1) << 1, plus 1 when
// the entry is a new value (AbsBit), the previous unit of the first being
// −1; the entries' float32s follow. A frame is exactly header plus stored
// payload; trailing bytes are an error.
const (
	frameMagic     = "NGCF"
	wireVersion    = 1
	flagSnappy     = 1 << 0
	flagDelta      = 1 << 1
	knownFlags     = flagSnappy | flagDelta
	fixedHeaderLen = 4 + 1 + 1 + 1 + 1 + 8 + 2 + 2 + 4 + 4 + 4 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Compression selects how AppendFrame stores the payload. Whatever the
// choice, a stored payload is never larger than the raw one: when snappy does
// not shrink it, the payload is stored raw and the header's snappy flag is
// clear, so decoders never pay for useless decompression.
type Compression uint8

const (
	// CompressAuto stores the snappy form only when it saves at least 1/8
	// of the raw size. On payloads of 256 KiB or more it first compresses
	// the leading 64 KiB and skips snappy altogether when that does not
	// shrink enough, so dense float noise (errors, leaky-ReLU states) costs
	// little more than CompressNone; sparse maps (images, saturated
	// states) shrink to about a third but take roughly ten times longer to
	// encode and decode than raw.
	CompressAuto Compression = iota
	// CompressNone always stores the payload raw: no compression cost.
	CompressNone
	// CompressSnappy stores the snappy form whenever it is smaller at all.
	CompressSnappy
)

// String returns "auto", "none", "snappy" or "compression(N)".
func (c Compression) String() string {
	switch c {
	case CompressAuto:
		return "auto"
	case CompressNone:
		return "none"
	case CompressSnappy:
		return "snappy"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// AppendFrame appends the wire encoding of f to dst and returns the extended
// buffer. It allocates only when dst lacks capacity: with CompressNone a
// frame needs f.WireSize() bytes, with snappy about 2.2 times that (snappy
// writes into dst's spare capacity after the raw payload), so a buffer
// reused across calls reaches a zero-allocation steady state. The raw
// payload is written once, in place; a snappy block replaces it only when
// kept.
//
// AppendFrame checks only what the wire format itself requires (shape against
// payload, strings ≤ 65535 bytes, payload < 4 GiB); buses also check Limits.
// On error dst is returned unchanged.
func AppendFrame(dst []byte, f *Frame, c Compression) ([]byte, error) {
	if f == nil {
		return dst, ErrNilFrame
	}
	if len(f.Run) > math.MaxUint16 || len(f.Sender) > math.MaxUint16 {
		return dst, fmt.Errorf("bus: encode: run or sender longer than %d bytes: %w", math.MaxUint16, ErrFrameTooLarge)
	}
	if int64(len(f.Payload)) > math.MaxUint32/4 {
		return dst, fmt.Errorf("bus: encode frame from %q: payload of %d floats: %w", f.Sender, len(f.Payload), ErrFrameTooLarge)
	}
	rawLen := 4 * len(f.Payload)
	if f.Delta != nil {
		units, err := shapeUnits(f.Shape, math.MaxInt32/4)
		if err == nil {
			err = f.Delta.check(units, len(f.Payload))
		}
		if err != nil {
			return dst, fmt.Errorf("bus: encode frame from %q: %w", f.Sender, err)
		}
		rawLen = f.Delta.bodyLen(len(f.Payload))
		if int64(rawLen) > math.MaxUint32 {
			return dst, fmt.Errorf("bus: encode frame from %q: delta payload of %d bytes: %w", f.Sender, rawLen, ErrFrameTooLarge)
		}
	} else if err := checkShape(f.Shape, len(f.Payload)); err != nil {
		return dst, fmt.Errorf("bus: encode frame from %q: %w", f.Sender, err)
	}
	hlen := f.HeaderSize()
	start := len(dst)

	maxEnc := 0
	if c != CompressNone && rawLen > 0 {
		maxEnc = snappy.MaxEncodedLen(rawLen)
		if maxEnc < 0 {
			maxEnc = 0
		}
	}
	if maxEnc == 0 {
		c = CompressNone
	}
	// Layout while encoding: header, raw payload, then (when compressing)
	// maxEnc bytes of snappy scratch that the final slice drops.
	dst = slices.Grow(dst, hlen+rawLen+maxEnc)[:start+hlen+rawLen+maxEnc]
	raw := dst[start+hlen : start+hlen+rawLen]
	if f.Delta != nil {
		f.Delta.putBody(raw, f.Payload)
	} else {
		putFloats(raw, f.Payload)
	}
	pcrc := crc32.Checksum(raw, castagnoli)

	flags := byte(0)
	stored := rawLen
	if c != CompressNone {
		scratch := dst[start+hlen+rawLen:]
		if c != CompressAuto || rawLen < 4*autoProbe || worthCompressing(scratch, raw[:autoProbe]) {
			enc := snappy.Encode(scratch, raw)
			keep := len(enc) < rawLen
			if c == CompressAuto {
				keep = worthIt(len(enc), rawLen)
			}
			if keep {
				copy(raw, enc)
				flags, stored = flagSnappy, len(enc)
			}
		}
	}
	dst = dst[:start+hlen+stored]

	h := dst[start : start+hlen]
	copy(h, frameMagic)
	h[4] = wireVersion
	h[5] = flags
	h[6] = byte(f.Kind)
	h[7] = byte(len(f.Shape))
	binary.LittleEndian.PutUint64(h[8:], f.Step)
	p := 16
	binary.LittleEndian.PutUint16(h[p:], uint16(len(f.Run)))
	p += 2 + copy(h[p+2:], f.Run)
	binary.LittleEndian.PutUint16(h[p:], uint16(len(f.Sender)))
	p += 2 + copy(h[p+2:], f.Sender)
	for _, d := range f.Shape {
		binary.LittleEndian.PutUint32(h[p:], uint32(d))
		p += 4
	}
	if d := f.Delta; d != nil {
		h[5] |= flagDelta
		binary.LittleEndian.PutUint32(h[p:], d.Seq)
		h[p+4] = 0
		if d.Reset {
			h[p+4] |= deltaReset
		}
		if d.Sparse {
			h[p+4] |= deltaSparse
		}
		binary.LittleEndian.PutUint32(h[p+5:], uint32(len(f.Payload)))
		p += deltaHeaderLen
	}
	binary.LittleEndian.PutUint32(h[p:], uint32(rawLen))
	binary.LittleEndian.PutUint32(h[p+4:], uint32(stored))
	binary.LittleEndian.PutUint32(h[p+8:], pcrc)
	binary.LittleEndian.PutUint32(h[p+12:], crc32.Checksum(h[:p+12], castagnoli))
	return dst, nil
}

// autoProbe is how many leading payload bytes CompressAuto compresses
// first, on payloads of at least 4·autoProbe bytes, to decide whether the
// rest is worth a snappy pass (snappy itself works in 64 KiB blocks).
const autoProbe = 64 << 10

// worthIt reports whether a snappy block of enc bytes saves enough of raw
// bytes (1/8) to pay for decompression.
func worthIt(enc, raw int) bool { return enc <= raw-raw/8 }

// worthCompressing compresses probe into scratch and reports whether it
// shrank enough.
func worthCompressing(scratch, probe []byte) bool {
	return worthIt(len(snappy.Encode(scratch, probe)), len(probe))
}

// Header is the decoded header of a frame, as returned by DecodeHeader.
type Header struct {
	Run        string // as in Frame
	Sender     string // as in Frame
	Kind       Kind   // as in Frame
	Step       uint64 // as in Frame
	Shape      []int  // nil when the frame carries no payload
	Compressed bool   // the stored payload is a snappy block
	PayloadLen int    // uncompressed payload bytes (4 per float)
	StoredLen  int    // payload bytes on the wire
	PayloadCRC uint32 // CRC-32C of the uncompressed payload
	Size       int    // header bytes; Size+StoredLen is the frame's length
	// Delta describes a delta frame (nil for a plain one); its Index is not
	// decoded. Entries is the number of floats the payload holds.
	Delta   *Delta
	Entries int
}

// rawHeader is a parsed header whose strings still point into the input.
type rawHeader struct {
	flags      byte
	kind       Kind
	ndims      int
	step       uint64
	run        []byte
	sender     []byte
	dims       [MaxDims]uint32
	floats     int // floats in the payload: product of dims (0 when ndims == 0), or a delta frame's entries
	units      int // product of dims
	delta      bool
	seq        uint32
	dflags     byte
	rawLen     int
	storedLen  int
	payloadCRC uint32
	size       int
}

// shape returns the declared dimensions as a new slice.
func (h *rawHeader) shape() []int {
	s := make([]int, h.ndims)
	for i := range s {
		s[i] = int(h.dims[i])
	}
	return s
}

// parseHeader reads and checks the header of data against lim (which must
// have its defaults applied). It allocates nothing. On error, h.sender holds
// the sender if the header got far enough to read it.
func parseHeader(data []byte, lim Limits) (h rawHeader, err error) {
	if len(data) < len(frameMagic) || string(data[:len(frameMagic)]) != frameMagic {
		if len(data) < len(frameMagic) && string(data) == frameMagic[:len(data)] {
			return h, fmt.Errorf("%d bytes: %w", len(data), ErrTruncated)
		}
		return h, ErrMagic
	}
	if len(data) < 5 {
		return h, fmt.Errorf("%d bytes: %w", len(data), ErrTruncated)
	}
	if data[4] != wireVersion {
		return h, fmt.Errorf("version %d, want %d: %w", data[4], wireVersion, ErrVersion)
	}
	if len(data) < 18 {
		return h, fmt.Errorf("%d bytes, header needs at least %d: %w", len(data), fixedHeaderLen, ErrTruncated)
	}
	h.flags = data[5]
	h.kind = Kind(data[6])
	h.ndims = int(data[7])
	h.step = binary.LittleEndian.Uint64(data[8:])
	p := 16
	n := int(binary.LittleEndian.Uint16(data[p:]))
	p += 2
	if n > lim.MaxString {
		return h, fmt.Errorf("run id of %d bytes, limit %d: %w", n, lim.MaxString, ErrFrameTooLarge)
	}
	if len(data) < p+n+2 {
		return h, fmt.Errorf("run id: %w", ErrTruncated)
	}
	h.run = data[p : p+n]
	p += n
	n = int(binary.LittleEndian.Uint16(data[p:]))
	p += 2
	if n > lim.MaxString {
		return h, fmt.Errorf("sender of %d bytes, limit %d: %w", n, lim.MaxString, ErrFrameTooLarge)
	}
	if len(data) < p+n {
		return h, fmt.Errorf("sender: %w", ErrTruncated)
	}
	h.sender = data[p : p+n]
	p += n
	// From here on errors can name the sender.
	if h.flags&^knownFlags != 0 {
		return h, fmt.Errorf("unknown flags %#02x: %w", h.flags, ErrVersion)
	}
	if h.ndims > MaxDims {
		return h, fmt.Errorf("%d dimensions, at most %d: %w", h.ndims, MaxDims, ErrShape)
	}
	h.delta = h.flags&flagDelta != 0
	extra := 0
	if h.delta {
		extra = deltaHeaderLen
	}
	if len(data) < p+4*h.ndims+extra+16 {
		return h, fmt.Errorf("%d bytes, header needs %d: %w", len(data), p+4*h.ndims+extra+16, ErrTruncated)
	}
	for i := range h.ndims {
		h.dims[i] = binary.LittleEndian.Uint32(data[p:])
		p += 4
	}
	var entries uint32
	if h.delta {
		h.seq = binary.LittleEndian.Uint32(data[p:])
		h.dflags = data[p+4]
		entries = binary.LittleEndian.Uint32(data[p+5:])
		p += deltaHeaderLen
	}
	rawLen := binary.LittleEndian.Uint32(data[p:])
	storedLen := binary.LittleEndian.Uint32(data[p+4:])
	h.payloadCRC = binary.LittleEndian.Uint32(data[p+8:])
	if want, got := binary.LittleEndian.Uint32(data[p+12:]), crc32.Checksum(data[:p+12], castagnoli); want != got {
		return h, fmt.Errorf("header CRC %#08x, computed %#08x: %w", want, got, ErrChecksum)
	}
	h.size = p + 16

	// Sizes, all checked before the caller allocates anything.
	maxFloats := uint64(lim.MaxPayload / 4)
	var floats uint64
	if h.ndims > 0 {
		floats = 1
		for _, d := range h.dims[:h.ndims] {
			if d != 0 && floats > maxFloats/uint64(d) {
				return h, fmt.Errorf("shape %v exceeds %d floats (limit %d bytes): %w", h.shape(), maxFloats, lim.MaxPayload, ErrFrameTooLarge)
			}
			floats *= uint64(d)
		}
	}
	if uint64(rawLen) > uint64(lim.MaxPayload) {
		return h, fmt.Errorf("payload of %d bytes, limit %d: %w", rawLen, lim.MaxPayload, ErrFrameTooLarge)
	}
	h.units = int(floats)
	if h.delta {
		if err := checkDeltaSizes(&h, uint64(entries), floats, uint64(rawLen), lim); err != nil {
			return h, err
		}
		floats = uint64(entries)
	} else if uint64(rawLen) != 4*floats {
		return h, fmt.Errorf("shape %v holds %d floats, payload has %d bytes: %w", h.shape(), floats, rawLen, ErrShape)
	}
	if h.flags&flagSnappy == 0 && storedLen != rawLen {
		return h, fmt.Errorf("raw payload stored in %d bytes, declared %d: %w", storedLen, rawLen, ErrCorrupt)
	}
	if storedLen > rawLen {
		return h, fmt.Errorf("compressed payload of %d bytes exceeds raw %d: %w", storedLen, rawLen, ErrCorrupt)
	}
	switch rest := uint64(len(data) - h.size); {
	case rest < uint64(storedLen):
		return h, fmt.Errorf("payload has %d of %d bytes: %w", rest, storedLen, ErrTruncated)
	case rest > uint64(storedLen):
		return h, fmt.Errorf("%d bytes after the payload: %w", rest-uint64(storedLen), ErrCorrupt)
	}
	h.floats = int(floats)
	h.rawLen = int(rawLen)
	h.storedLen = int(storedLen)
	return h, nil
}

// DecodeHeader decodes and verifies the header of the frame in data (header
// CRC, sizes against lim, total length) without touching the payload.
// Errors are *FrameError.
func DecodeHeader(data []byte, lim Limits) (Header, error) {
	h, err := parseHeader(data, lim.withDefaults())
	if err != nil {
		return Header{}, &FrameError{Sender: string(h.sender), Err: err}
	}
	hd := Header{
		Run:        string(h.run),
		Sender:     string(h.sender),
		Kind:       h.kind,
		Step:       h.step,
		Compressed: h.flags&flagSnappy != 0,
		PayloadLen: h.rawLen,
		StoredLen:  h.storedLen,
		PayloadCRC: h.payloadCRC,
		Size:       h.size,
		Entries:    h.floats,
	}
	if h.ndims > 0 {
		hd.Shape = h.shape()
	}
	if h.delta {
		hd.Delta = &Delta{Seq: h.seq, Reset: h.dflags&deltaReset != 0, Sparse: h.dflags&deltaSparse != 0}
	}
	return hd, nil
}

// checkDeltaSizes checks the sizes a delta frame declares: entries floats
// in a map of units, in a payload of rawLen bytes. Its decoded form (an
// index and a float per entry) is bounded by lim.MaxPayload, like a plain
// frame's payload.
func checkDeltaSizes(h *rawHeader, entries, units, rawLen uint64, lim Limits) error {
	if h.ndims == 0 {
		return fmt.Errorf("delta frame without a shape: %w", ErrShape)
	}
	if h.dflags&^deltaKnown != 0 {
		return fmt.Errorf("unknown delta flags %#02x: %w", h.dflags, ErrVersion)
	}
	if h.dflags&deltaSparse == 0 {
		if entries != units || rawLen != 4*units {
			return fmt.Errorf("full delta frame of %d entries and %d bytes for shape %v: %w", entries, rawLen, h.shape(), ErrShape)
		}
		return nil
	}
	switch {
	case entries > units:
		return fmt.Errorf("sparse delta frame of %d entries for shape %v: %w", entries, h.shape(), ErrShape)
	case 8*entries > uint64(lim.MaxPayload):
		return fmt.Errorf("sparse delta frame of %d entries, limit %d bytes at 8 per entry: %w", entries, lim.MaxPayload, ErrFrameTooLarge)
	case rawLen < 5*entries || rawLen > 9*entries:
		return fmt.Errorf("sparse delta frame of %d entries in %d bytes (want 5 to 9 per entry): %w", entries, rawLen, ErrCorrupt)
	}
	return nil
}

// Decode decodes one frame from data, checking every size against lim
// before allocating and both checksums. Errors are *FrameError, naming the
// sender when the header got far enough to read it. The returned frame does
// not alias data.
func Decode(data []byte, lim Limits) (*Frame, error) {
	d := Decoder{Limits: lim}
	return d.Decode(data)
}

// Decoder decodes frames under its Limits. On big-endian hosts it reuses a
// scratch buffer for decompression across calls (little-endian hosts
// decompress straight into the payload). A Decoder must not be used by
// several goroutines at once; the zero value uses the default Limits.
type Decoder struct {
	// Limits bounds every declared size; zero fields take their defaults.
	Limits Limits

	buf []byte // snappy scratch on big-endian hosts, grows up to Limits.MaxPayload
}

// Decode decodes one frame from data into a new Frame. See the package
// function Decode.
func (d *Decoder) Decode(data []byte) (*Frame, error) {
	f := new(Frame)
	if err := d.DecodeInto(f, data); err != nil {
		return nil, err
	}
	return f, nil
}

// DecodeInto decodes one frame from data into f, reusing the capacity of
// f.Shape and f.Payload and keeping f.Run and f.Sender when they are
// unchanged, so that decoding a stream of like frames into the same Frame
// does not allocate. On error f is left in an unspecified state.
//
// On little-endian hosts the payload is copied from data (or decompressed
// from it) straight into f.Payload, with no intermediate buffer.
func (d *Decoder) DecodeInto(f *Frame, data []byte) error {
	if f == nil {
		return ErrNilFrame
	}
	h, err := parseHeader(data, d.Limits.withDefaults())
	if err != nil {
		return &FrameError{Sender: string(h.sender), Err: err}
	}
	if err := d.decodePayload(f, data, &h); err != nil {
		return &FrameError{Sender: string(h.sender), Err: err}
	}
	setHeader(f, &h)
	return nil
}

// decodePayload fills f.Payload, reusing its capacity, from the payload of
// data, whose header h has been parsed and checked, and verifies the
// payload CRC.
func (d *Decoder) decodePayload(f *Frame, data []byte, h *rawHeader) error {
	if h.delta && h.dflags&deltaSparse != 0 {
		return d.decodeSparse(f, data, h)
	}
	stored := data[h.size:]
	f.Payload = slices.Grow(f.Payload[:0], h.floats)[:h.floats]
	if h.flags&flagSnappy == 0 {
		if got := crc32.Checksum(stored, castagnoli); got != h.payloadCRC {
			return fmt.Errorf("payload CRC %#08x, computed %#08x: %w", h.payloadCRC, got, ErrChecksum)
		}
		getFloats(f.Payload, stored)
		return nil
	}
	n, err := snappy.DecodedLen(stored)
	if err != nil || n != h.rawLen {
		return fmt.Errorf("snappy block declares %d bytes, header %d: %w", n, h.rawLen, ErrCorrupt)
	}
	// Decompress into the payload itself where its memory has the wire
	// layout, else into the scratch buffer.
	var dst []byte
	if nativeLittleEndian {
		dst = floatBytes(f.Payload)
	} else {
		if cap(d.buf) < n {
			d.buf = make([]byte, n)
		}
		dst = d.buf[:n]
	}
	raw, err := snappy.Decode(dst, stored)
	if err != nil || len(raw) != h.rawLen || (n > 0 && &raw[0] != &dst[0]) {
		return fmt.Errorf("snappy: %v: %w", err, ErrCorrupt)
	}
	if got := crc32.Checksum(raw, castagnoli); got != h.payloadCRC {
		return fmt.Errorf("payload CRC %#08x, computed %#08x: %w", h.payloadCRC, got, ErrChecksum)
	}
	if !nativeLittleEndian {
		getFloats(f.Payload, raw)
	}
	return nil
}

// decodeSparse fills f.Payload and f.Delta.Index from the body of a sparse
// delta frame, whose header h has been parsed and checked (its declared
// sizes bound what is allocated), and verifies the payload CRC.
func (d *Decoder) decodeSparse(f *Frame, data []byte, h *rawHeader) error {
	body := data[h.size:]
	if h.flags&flagSnappy != 0 {
		n, err := snappy.DecodedLen(body)
		if err != nil || n != h.rawLen {
			return fmt.Errorf("snappy block declares %d bytes, header %d: %w", n, h.rawLen, ErrCorrupt)
		}
		if cap(d.buf) < n {
			d.buf = make([]byte, n)
		}
		raw, err := snappy.Decode(d.buf[:n], body)
		if err != nil || len(raw) != h.rawLen {
			return fmt.Errorf("snappy: %v: %w", err, ErrCorrupt)
		}
		body = raw
	}
	if got := crc32.Checksum(body, castagnoli); got != h.payloadCRC {
		return fmt.Errorf("payload CRC %#08x, computed %#08x: %w", h.payloadCRC, got, ErrChecksum)
	}
	if f.Delta == nil {
		f.Delta = new(Delta)
	}
	idx := slices.Grow(f.Delta.Index[:0], h.floats)[:h.floats]
	rest, err := parseIndex(idx, body, h.units)
	if err != nil {
		return err
	}
	if len(rest) != 4*h.floats {
		return fmt.Errorf("index list leaves %d bytes for %d values: %w", len(rest), h.floats, ErrCorrupt)
	}
	f.Delta.Index = idx
	f.Payload = slices.Grow(f.Payload[:0], h.floats)[:h.floats]
	getFloats(f.Payload, rest)
	return nil
}

// setHeader copies the header fields of h into f, reusing f.Shape's
// capacity and keeping f.Run and f.Sender when they are unchanged.
func setHeader(f *Frame, h *rawHeader) {
	if string(h.run) != f.Run {
		f.Run = string(h.run)
	}
	if string(h.sender) != f.Sender {
		f.Sender = string(h.sender)
	}
	f.Kind = h.kind
	f.Step = h.step
	f.Shape = slices.Grow(f.Shape[:0], h.ndims)[:h.ndims]
	for i := range f.Shape {
		f.Shape[i] = int(h.dims[i])
	}
	if !h.delta {
		f.Delta = nil
		return
	}
	if f.Delta == nil {
		f.Delta = new(Delta)
	}
	f.Delta.Seq, f.Delta.Reset, f.Delta.Sparse = h.seq, h.dflags&deltaReset != 0, h.dflags&deltaSparse != 0
	if !f.Delta.Sparse {
		f.Delta.Index = nil
	}
}

// decodeOwned decodes the frame in data like Decode, for a caller that
// hands data over: the returned frame's payload may alias data, whose
// header bytes may be overwritten. It is what makes a received NATS message
// a frame without copying its payload again: on little-endian hosts an
// uncompressed payload is used in place, after being moved back by up to 3
// bytes, over the already parsed header, when it does not start on a 4-byte
// boundary. Compressed payloads, and every payload on other hosts, are
// decoded into new memory as by Decode.
func (d *Decoder) decodeOwned(data []byte) (*Frame, error) {
	h, err := parseHeader(data, d.Limits.withDefaults())
	if err != nil {
		return nil, &FrameError{Sender: string(h.sender), Err: err}
	}
	f := new(Frame)
	if !nativeLittleEndian || h.flags&flagSnappy != 0 || h.floats == 0 || h.delta {
		if err := d.decodePayload(f, data, &h); err != nil {
			return nil, &FrameError{Sender: string(h.sender), Err: err}
		}
		setHeader(f, &h)
		return f, nil
	}
	stored := data[h.size:]
	if got := crc32.Checksum(stored, castagnoli); got != h.payloadCRC {
		return nil, &FrameError{Sender: string(h.sender), Err: fmt.Errorf("payload CRC %#08x, computed %#08x: %w", h.payloadCRC, got, ErrChecksum)}
	}
	setHeader(f, &h) // copies run and sender out of data before it moves
	at := h.size
	if m := misalignment(stored); m != 0 {
		at -= m // h.size ≥ fixedHeaderLen > 3
		copy(data[at:], stored)
	}
	p, ok := floatsIn(data[at : at+h.rawLen])
	if !ok { // not reached: data[at] is 4-byte aligned
		p = make([]float32, h.floats)
		getFloats(p, data[at:])
	}
	f.Payload = p
	return f, nil
}

// putFloatsPortable writes src to dst as little-endian float32s, one float
// at a time, on any host; len(dst) must be at least 4·len(src).
func putFloatsPortable(dst []byte, src []float32) {
	for _, v := range src {
		binary.LittleEndian.PutUint32(dst, math.Float32bits(v))
		dst = dst[4:]
	}
}

// getFloatsPortable reads len(dst) little-endian float32s from src, one at a
// time, on any host.
func getFloatsPortable(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src))
		src = src[4:]
	}
}
