package data

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// MaxMATBytes is the largest single data element (or array payload) that
// LoadSVHNMat accepts. The official SVHN train_32x32.mat holds a 225 MB X.
const MaxMATBytes = 1 << 31

// MAT-file data types (the "miXXX" codes of the Level 5 MAT-file format).
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

// matHeaderSize is the size of the MAT-file header: 116 bytes of text, an
// 8-byte subsystem data offset, a 2-byte version and a 2-byte endian
// indicator.
const matHeaderSize = 128

// MATClass is the class of a MATLAB array (the mxXXX_CLASS codes).
type MATClass uint8

// MATLAB array classes.
const (
	MATCell     MATClass = 1
	MATStruct   MATClass = 2
	MATObject   MATClass = 3
	MATChar     MATClass = 4
	MATSparse   MATClass = 5
	MATDouble   MATClass = 6
	MATSingle   MATClass = 7
	MATInt8     MATClass = 8
	MATUint8    MATClass = 9
	MATInt16    MATClass = 10
	MATUint16   MATClass = 11
	MATInt32    MATClass = 12
	MATUint32   MATClass = 13
	MATInt64    MATClass = 14
	MATUint64   MATClass = 15
	MATFunction MATClass = 16
	MATOpaque   MATClass = 17
)

// String returns the MATLAB name of the class, such as "uint8" or "double".
func (c MATClass) String() string {
	names := [...]string{
		MATCell: "cell", MATStruct: "struct", MATObject: "object", MATChar: "char",
		MATSparse: "sparse", MATDouble: "double", MATSingle: "single", MATInt8: "int8",
		MATUint8: "uint8", MATInt16: "int16", MATUint16: "uint16", MATInt32: "int32",
		MATUint32: "uint32", MATInt64: "int64", MATUint64: "uint64",
		MATFunction: "function_handle", MATOpaque: "opaque",
	}
	if int(c) < len(names) && names[c] != "" {
		return names[c]
	}
	return fmt.Sprintf("MATClass(%d)", uint8(c))
}

// numeric reports whether arrays of class c hold plain numeric data.
func (c MATClass) numeric() bool { return c >= MATDouble && c <= MATUint64 }

// MATVar is one top-level variable of a MAT-file.
//
// Dims are MATLAB's dimensions (at least two); the data is in MATLAB's
// column-major order: the first index varies fastest. Only numeric classes
// carry data; for the others (cell, struct, char, sparse, …) Class, Dims and
// Name are filled in and the data accessors return ErrUnsupported. The
// imaginary part of a complex array is checked but not kept.
type MATVar struct {
	Name    string
	Class   MATClass
	Dims    []int
	Complex bool
	Global  bool
	Logical bool

	order binary.ByteOrder
	typ   uint32 // storage type of the real part (miXXX), which may differ from Class
	real  []byte
}

// Len returns the number of elements, the product of Dims.
func (v *MATVar) Len() int {
	n := 1
	for _, d := range v.Dims {
		n *= d
	}
	return n
}

// Uint8 returns the real part as bytes in column-major order. When the data
// is stored as miUINT8 the result shares memory with v; otherwise the values
// are converted and each must be an integer in [0, 255].
func (v *MATVar) Uint8() ([]uint8, error) {
	if !v.Class.numeric() {
		return nil, fmt.Errorf("variable %q: class %v: %w", v.Name, v.Class, ErrUnsupported)
	}
	if v.typ == miUINT8 {
		return v.real, nil
	}
	f, err := v.Float64()
	if err != nil {
		return nil, err
	}
	out := make([]uint8, len(f))
	for i, x := range f {
		if x < 0 || x > 255 || x != math.Trunc(x) {
			return nil, fmt.Errorf("variable %q: element %d: %w: %v is not a byte value", v.Name, i, ErrFormat, x)
		}
		out[i] = uint8(x)
	}
	return out, nil
}

// Float64 returns the real part converted to float64, in column-major order.
func (v *MATVar) Float64() ([]float64, error) {
	if !v.Class.numeric() {
		return nil, fmt.Errorf("variable %q: class %v: %w", v.Name, v.Class, ErrUnsupported)
	}
	size := matTypeSize(v.typ)
	out := make([]float64, len(v.real)/size)
	o, b := v.order, v.real
	for i := range out {
		p := b[i*size:]
		switch v.typ {
		case miINT8:
			out[i] = float64(int8(p[0]))
		case miUINT8:
			out[i] = float64(p[0])
		case miINT16:
			out[i] = float64(int16(o.Uint16(p)))
		case miUINT16:
			out[i] = float64(o.Uint16(p))
		case miINT32:
			out[i] = float64(int32(o.Uint32(p)))
		case miUINT32:
			out[i] = float64(o.Uint32(p))
		case miINT64:
			out[i] = float64(int64(o.Uint64(p)))
		case miUINT64:
			out[i] = float64(o.Uint64(p))
		case miSINGLE:
			out[i] = float64(math.Float32frombits(o.Uint32(p)))
		case miDOUBLE:
			out[i] = math.Float64frombits(o.Uint64(p))
		}
	}
	return out, nil
}

// matTypeSize returns the element size of a numeric data type, or 0.
func matTypeSize(typ uint32) int {
	switch typ {
	case miINT8, miUINT8:
		return 1
	case miINT16, miUINT16:
		return 2
	case miINT32, miUINT32, miSINGLE:
		return 4
	case miDOUBLE, miINT64, miUINT64:
		return 8
	}
	return 0
}

// ReadMAT reads the variables of a Level 5 MAT-file (MATLAB v5 to v7; not
// v7.3, which is HDF5) from r, in file order. Both byte orders are read, as
// are uncompressed (miMATRIX) and zlib-compressed (miCOMPRESSED) variables,
// with the small data element format where it occurs. Every declared size
// (element length, dimensions × element size) is checked against limit
// before anything of that size is allocated; a larger one is an ErrTooLarge
// error.
func ReadMAT(r io.Reader, limit int64) ([]*MATVar, error) {
	return readMAT(r, -1, limit)
}

// readMAT is ReadMAT for a stream of known size (size < 0: unknown); a known
// size also bounds the uncompressed elements.
func readMAT(r io.Reader, size, limit int64) ([]*MATVar, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var head [matHeaderSize]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, fmt.Errorf("MAT header: %w: %w", ErrFormat, noEOF(err))
	}
	var order binary.ByteOrder
	switch string(head[126:128]) {
	case "IM":
		order = binary.LittleEndian
	case "MI":
		order = binary.BigEndian
	default:
		if string(head[:4]) == "\x89HDF" {
			return nil, fmt.Errorf("MAT header: %w: HDF5 file", ErrUnsupported)
		}
		return nil, fmt.Errorf("MAT header: %w: no endian indicator (not a Level 5 MAT-file)", ErrFormat)
	}
	switch v := order.Uint16(head[124:]); v {
	case 0x0100:
	case 0x0200:
		return nil, fmt.Errorf("MAT header: %w: version 0x0200 (MATLAB v7.3, HDF5); save with -v7", ErrUnsupported)
	default:
		return nil, fmt.Errorf("MAT header: %w: version 0x%04x, want 0x0100", ErrFormat, v)
	}
	pos := int64(matHeaderSize)
	var vars []*MATVar
	for {
		var tag [8]byte
		n, err := io.ReadFull(br, tag[:])
		if n == 0 && errors.Is(err, io.EOF) {
			return vars, nil
		}
		if err != nil {
			return nil, fmt.Errorf("element at byte %d: %w: truncated tag: %w", pos, ErrFormat, noEOF(err))
		}
		typ, nbytes := order.Uint32(tag[:]), int64(order.Uint32(tag[4:]))
		if typ>>16 != 0 {
			return nil, fmt.Errorf("element at byte %d: %w: small data element at top level", pos, ErrFormat)
		}
		if size >= 0 && nbytes > size-pos-8 {
			return nil, fmt.Errorf("element at byte %d: %w: truncated: declares %d bytes, %d left", pos, ErrFormat, nbytes, size-pos-8)
		}
		var v *MATVar
		switch typ {
		case miCOMPRESSED:
			v, err = readCompressed(br, nbytes, order, limit)
		case miMATRIX:
			v, err = readMatrixBody(br, nbytes, order, limit)
			if err == nil {
				err = skipPadding(br, nbytes)
			}
		default:
			// Not a variable: skip it and its padding.
			_, err = io.CopyN(io.Discard, br, nbytes)
			if err == nil {
				err = skipPadding(br, nbytes)
			} else {
				err = fmt.Errorf("%w: truncated: %w", ErrFormat, noEOF(err))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("element at byte %d (type %d): %w", pos, typ, err)
		}
		if v != nil {
			vars = append(vars, v)
		}
		pos += 8 + nbytes + pad8(nbytes)
		if typ == miCOMPRESSED {
			pos -= pad8(nbytes)
		}
	}
}

// pad8 returns the padding that follows n bytes to an 8-byte boundary.
func pad8(n int64) int64 { return (8 - n%8) % 8 }

// skipPadding skips the padding after an uncompressed top-level element of n
// bytes. A file may end without the final padding.
func skipPadding(br *bufio.Reader, n int64) error {
	_, err := br.Discard(int(pad8(n)))
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// readCompressed decompresses one miCOMPRESSED element of nbytes compressed
// bytes; it must hold exactly one data element, a matrix or anything else
// (which is skipped: the result is then nil).
func readCompressed(r io.Reader, nbytes int64, order binary.ByteOrder, limit int64) (*MATVar, error) {
	lr := &io.LimitedReader{R: r, N: nbytes}
	zr, err := zlib.NewReader(lr)
	if err != nil {
		return nil, fmt.Errorf("zlib: %w: %w", ErrFormat, noEOF(err))
	}
	var tag [8]byte
	if _, err := io.ReadFull(zr, tag[:]); err != nil {
		return nil, fmt.Errorf("compressed tag: %w: %w", ErrFormat, noEOF(err))
	}
	typ, inner := order.Uint32(tag[:]), int64(order.Uint32(tag[4:]))
	var v *MATVar
	if typ == miMATRIX {
		v, err = readMatrixBody(zr, inner, order, limit)
	} else {
		_, err = io.CopyN(io.Discard, zr, inner)
	}
	if err != nil {
		return nil, fmt.Errorf("compressed element: %w", wrapCorrupt(err))
	}
	// Reach the end of the zlib stream, which checks its checksum; at most
	// the padding of the inner element may follow.
	rest, err := io.Copy(io.Discard, io.LimitReader(zr, 8))
	if err != nil {
		return nil, fmt.Errorf("compressed element: %w", wrapCorrupt(err))
	}
	if rest > pad8(inner) {
		return nil, fmt.Errorf("compressed element: %w: data after the element", ErrFormat)
	}
	// Skip any compressed bytes the zlib reader did not consume.
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return nil, err
	}
	if lr.N != 0 {
		return nil, fmt.Errorf("compressed element: %w: truncated: %d of %d bytes missing", ErrFormat, lr.N, nbytes)
	}
	return v, nil
}

// wrapCorrupt marks decompression errors as ErrFormat.
func wrapCorrupt(err error) error {
	if errors.Is(err, ErrFormat) || errors.Is(err, ErrTooLarge) || !isCorrupt(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrFormat, err)
}

// readMatrixBody reads the nbytes body of a miMATRIX element from r.
func readMatrixBody(r io.Reader, nbytes int64, order binary.ByteOrder, limit int64) (*MATVar, error) {
	if nbytes > limit || nbytes > math.MaxInt {
		return nil, fmt.Errorf("matrix of %d bytes: %w (%d)", nbytes, ErrTooLarge, limit)
	}
	body := make([]byte, nbytes)
	if k, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("matrix: %w: truncated: %d of %d bytes: %w", ErrFormat, k, nbytes, noEOF(err))
	}
	return parseMatrix(body, order, limit)
}

// matCursor walks the sub-elements of a matrix body.
type matCursor struct {
	b     []byte
	off   int
	order binary.ByteOrder
}

// next returns the type and data of the next sub-element, in either the
// normal (8-byte tag, data padded to 8 bytes) or the small (type and length
// in 4 bytes, up to 4 data bytes) format.
func (c *matCursor) next(what string) (typ uint32, data []byte, err error) {
	if len(c.b)-c.off < 8 {
		return 0, nil, fmt.Errorf("%s: %w: truncated tag at byte %d", what, ErrFormat, c.off)
	}
	word := c.order.Uint32(c.b[c.off:])
	if n := int(word >> 16); n != 0 {
		if n > 4 {
			return 0, nil, fmt.Errorf("%s: %w: small element of %d bytes", what, ErrFormat, n)
		}
		data = c.b[c.off+4 : c.off+4+n]
		c.off += 8
		return word & 0xffff, data, nil
	}
	n := int64(c.order.Uint32(c.b[c.off+4:]))
	start := c.off + 8
	if n > int64(len(c.b)-start) {
		return 0, nil, fmt.Errorf("%s: %w: declares %d bytes, %d left", what, ErrFormat, n, len(c.b)-start)
	}
	data = c.b[start : start+int(n)]
	c.off = min(start+int(n)+int(pad8(n)), len(c.b))
	return word, data, nil
}

// parseMatrix decodes a miMATRIX body: array flags, dimensions, name and,
// for numeric classes, the real and (if complex) imaginary parts.
func parseMatrix(body []byte, order binary.ByteOrder, limit int64) (*MATVar, error) {
	c := &matCursor{b: body, order: order}
	typ, flags, err := c.next("array flags")
	if err != nil {
		return nil, err
	}
	if typ != miUINT32 || len(flags) != 8 {
		return nil, fmt.Errorf("array flags: %w: type %d with %d bytes, want miUINT32 with 8", ErrFormat, typ, len(flags))
	}
	word := order.Uint32(flags)
	v := &MATVar{
		Class:   MATClass(word & 0xff),
		Complex: word&0x0800 != 0,
		Global:  word&0x0400 != 0,
		Logical: word&0x0200 != 0,
		order:   order,
	}
	typ, dims, err := c.next("dimensions")
	if err != nil {
		return nil, err
	}
	if typ != miINT32 || len(dims)%4 != 0 || len(dims) < 8 {
		return nil, fmt.Errorf("dimensions: %w: type %d with %d bytes, want miINT32 with two or more", ErrFormat, typ, len(dims))
	}
	v.Dims = make([]int, len(dims)/4)
	count := int64(1)
	for i := range v.Dims {
		d := int64(int32(order.Uint32(dims[4*i:])))
		if d < 0 {
			return nil, fmt.Errorf("dimensions: %w: dimension %d is %d", ErrFormat, i, d)
		}
		v.Dims[i] = int(d)
		if d != 0 && count > limit/d {
			return nil, fmt.Errorf("dimensions %v: %w (%d elements)", v.Dims[:i+1], ErrTooLarge, limit)
		}
		count *= d
	}
	typ, name, err := c.next("array name")
	if err != nil {
		return nil, err
	}
	if typ != miINT8 && typ != miUTF8 {
		return nil, fmt.Errorf("array name: %w: type %d, want miINT8", ErrFormat, typ)
	}
	v.Name = string(name)
	if !v.Class.numeric() {
		return v, nil
	}
	if v.typ, v.real, err = numericPart(c, "real part", count); err != nil {
		return nil, fmt.Errorf("variable %q: %w", v.Name, err)
	}
	if v.Complex {
		if _, _, err = numericPart(c, "imaginary part", count); err != nil {
			return nil, fmt.Errorf("variable %q: %w", v.Name, err)
		}
	}
	return v, nil
}

// numericPart reads a numeric data sub-element of count elements.
func numericPart(c *matCursor, what string, count int64) (uint32, []byte, error) {
	typ, data, err := c.next(what)
	if err != nil {
		return 0, nil, err
	}
	size := matTypeSize(typ)
	if size == 0 {
		return 0, nil, fmt.Errorf("%s: %w: data type %d is not numeric", what, ErrFormat, typ)
	}
	if int64(len(data)) != count*int64(size) {
		return 0, nil, fmt.Errorf("%s: %w: %d bytes for %d elements of %d bytes", what, ErrFormat, len(data), count, size)
	}
	return typ, data, nil
}
