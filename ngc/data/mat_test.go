package data

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// This file holds a small Level 5 MAT-file writer, enough to produce the
// test inputs: uncompressed or zlib-compressed variables in either byte
// order, with the small data element format where data fits in 4 bytes.

// byteOrder reads and appends in one byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// matVarSpec describes one variable to write.
type matVarSpec struct {
	name  string
	class MATClass
	dims  []int
	typ   uint32 // storage type of the data
	data  []byte // encoded in the file's byte order
	flags uint32 // extra flag bits (complex 0x0800, global 0x0400, logical 0x0200)
	imag  []byte // imaginary part, written when flags has the complex bit
	raw   []byte // if set, the whole matrix body, as is
}

// matSub encodes a sub-element, in the small format if small and it fits.
func matSub(o byteOrder, typ uint32, data []byte, small bool) []byte {
	if small && len(data) <= 4 {
		b := o.AppendUint32(nil, uint32(len(data))<<16|typ)
		b = append(b, data...)
		return append(b, make([]byte, 4-len(data))...)
	}
	b := o.AppendUint32(nil, typ)
	b = o.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return append(b, make([]byte, pad8(int64(len(data))))...)
}

// matMatrix encodes a miMATRIX element, tag included.
func matMatrix(o byteOrder, v matVarSpec) []byte {
	body := v.raw
	if body == nil {
		flags := o.AppendUint32(nil, uint32(v.class)|v.flags)
		flags = o.AppendUint32(flags, 0)
		body = matSub(o, miUINT32, flags, false)
		var dims []byte
		for _, d := range v.dims {
			dims = o.AppendUint32(dims, uint32(int32(d)))
		}
		body = append(body, matSub(o, miINT32, dims, false)...)
		body = append(body, matSub(o, miINT8, []byte(v.name), true)...)
		if v.class.numeric() {
			body = append(body, matSub(o, v.typ, v.data, true)...)
			if v.flags&0x0800 != 0 {
				body = append(body, matSub(o, v.typ, v.imag, true)...)
			}
		}
	}
	return matSub(o, miMATRIX, body, false)
}

// matHeader returns a MAT-file header for byte order o and version.
func matHeader(o byteOrder, version uint16) []byte {
	h := []byte("MATLAB 5.0 MAT-file, written by the ngc/data tests")
	h = append(h, bytes.Repeat([]byte{' '}, 116-len(h))...)
	h = append(h, make([]byte, 8)...)
	h = o.AppendUint16(h, version)
	return o.AppendUint16(h, 'M'<<8|'I')
}

// matFile writes a MAT-file holding the given elements (from matMatrix or
// matSub), each zlib-compressed if compress.
func matFile(t testing.TB, o byteOrder, compress bool, elems ...[]byte) []byte {
	t.Helper()
	b := matHeader(o, 0x0100)
	for _, e := range elems {
		if !compress {
			b = append(b, e...)
			continue
		}
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		if _, err := zw.Write(e); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		b = o.AppendUint32(b, miCOMPRESSED)
		b = o.AppendUint32(b, uint32(z.Len()))
		b = append(b, z.Bytes()...)
	}
	return b
}

// f64Bytes encodes float64 values in order o.
func f64Bytes(o byteOrder, v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = o.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func TestReadMAT(t *testing.T) {
	for _, o := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, compress := range []bool{false, true} {
			var i16 []byte
			for _, v := range []int16{-3, 300, 7} {
				i16 = o.AppendUint16(i16, uint16(v))
			}
			file := matFile(t, o, compress,
				matMatrix(o, matVarSpec{name: "pix", class: MATUint8, dims: []int{2, 3}, typ: miUINT8, data: []byte{1, 2, 3, 4, 5, 6}}),
				matSub(o, miUINT8, []byte("not a variable"), false), // skipped
				matMatrix(o, matVarSpec{name: "y", class: MATDouble, dims: []int{1, 2}, typ: miDOUBLE, data: f64Bytes(o, 10, 0.5)}),
				matMatrix(o, matVarSpec{name: "one", class: MATDouble, dims: []int{1, 1}, typ: miUINT8, data: []byte{42}}), // small data, stored narrower than its class
				matMatrix(o, matVarSpec{name: "s", class: MATInt16, dims: []int{3, 1}, typ: miINT16, data: i16}),
				matMatrix(o, matVarSpec{name: "text", class: MATChar, dims: []int{1, 2}, typ: miUTF8, data: []byte("hi")}),
				matMatrix(o, matVarSpec{name: "z", class: MATSingle, dims: []int{1, 1}, typ: miSINGLE, flags: 0x0800,
					data: o.AppendUint32(nil, math.Float32bits(1.5)), imag: o.AppendUint32(nil, math.Float32bits(-2))}),
				matMatrix(o, matVarSpec{name: "e", class: MATDouble, dims: []int{0, 0}, typ: miDOUBLE}),
			)
			vars, err := ReadMAT(bytes.NewReader(file), 1<<20)
			if err != nil {
				t.Fatalf("%v compress=%v: %v", o, compress, err)
			}
			var names []string
			for _, v := range vars {
				names = append(names, v.Name)
			}
			if want := []string{"pix", "y", "one", "s", "text", "z", "e"}; !slices.Equal(names, want) {
				t.Fatalf("%v compress=%v: variables %v, want %v", o, compress, names, want)
			}
			pix, err := vars[0].Uint8()
			if err != nil || !slices.Equal(pix, []byte{1, 2, 3, 4, 5, 6}) || !slices.Equal(vars[0].Dims, []int{2, 3}) || vars[0].Class != MATUint8 {
				t.Errorf("pix: %v %v %v %v", pix, err, vars[0].Dims, vars[0].Class)
			}
			y, err := vars[1].Float64()
			if err != nil || !slices.Equal(y, []float64{10, 0.5}) {
				t.Errorf("y: %v %v", y, err)
			}
			if _, err := vars[1].Uint8(); !errors.Is(err, ErrFormat) {
				t.Errorf("y as bytes (0.5 is not a byte): %v", err)
			}
			if one, err := vars[2].Float64(); err != nil || !slices.Equal(one, []float64{42}) || vars[2].Class != MATDouble {
				t.Errorf("one: %v %v class %v", one, err, vars[2].Class)
			}
			if s, err := vars[3].Float64(); err != nil || !slices.Equal(s, []float64{-3, 300, 7}) {
				t.Errorf("s: %v %v", s, err)
			}
			if _, err := vars[4].Float64(); !errors.Is(err, ErrUnsupported) || vars[4].Class != MATChar {
				t.Errorf("char variable: class %v, %v", vars[4].Class, err)
			}
			if z, err := vars[5].Float64(); err != nil || !vars[5].Complex || !slices.Equal(z, []float64{1.5}) {
				t.Errorf("complex z: %v %v complex=%v", z, err, vars[5].Complex)
			}
			if vars[6].Len() != 0 {
				t.Errorf("empty variable: Len %d", vars[6].Len())
			}
		}
	}
}

func TestReadMATErrors(t *testing.T) {
	le := binary.LittleEndian
	u8 := func(name string, dims []int, data []byte) []byte {
		return matMatrix(le, matVarSpec{name: name, class: MATUint8, dims: dims, typ: miUINT8, data: data})
	}
	good := matFile(t, le, false, u8("X", []int{2, 4}, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	goodZ := matFile(t, le, true, u8("X", []int{2, 4}, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	corruptZ := slices.Clone(goodZ)
	corruptZ[len(corruptZ)-2] ^= 0xff // the Adler-32 checksum
	badEndian := slices.Clone(good)
	copy(badEndian[126:], "XX")
	v73 := slices.Concat(matHeader(le, 0x0200), good[128:])
	body := func(parts ...[]byte) []byte { return matSub(le, miMATRIX, slices.Concat(parts...), false) }
	flags := matSub(le, miUINT32, le.AppendUint32(le.AppendUint32(nil, uint32(MATUint8)), 0), false)
	dims := func(d ...int32) []byte {
		var b []byte
		for _, x := range d {
			b = le.AppendUint32(b, uint32(x))
		}
		return matSub(le, miINT32, b, false)
	}
	name := matSub(le, miINT8, []byte("X"), true)
	smallTooBig := le.AppendUint32(nil, 5<<16|miINT8)
	smallTooBig = append(smallTooBig, 'a', 'b', 'c', 'd')
	tests := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrFormat, "header"},
		{"short header", good[:100], ErrFormat, "header"},
		{"bad endian", badEndian, ErrFormat, "endian"},
		{"v7.3", v73, ErrUnsupported, "HDF5"},
		{"hdf5 signature", slices.Concat([]byte("\x89HDF\r\n\x1a\n"), make([]byte, 200)), ErrUnsupported, "HDF5"},
		{"truncated tag", good[:len(good)-len(good[128:])+4], ErrFormat, "truncated tag"},
		{"truncated matrix", good[:len(good)-3], ErrFormat, "truncated"},
		{"truncated compressed", goodZ[:len(goodZ)-5], ErrFormat, ""},
		{"corrupt compressed", corruptZ, ErrFormat, ""},
		{"matrix over limit", matFile(t, le, false, u8("X", []int{40, 40}, make([]byte, 1600))), ErrTooLarge, ""},
		{"dims over limit", matFile(t, le, false, body(flags, dims(1<<20, 1<<20), name, matSub(le, miUINT8, nil, false))), ErrTooLarge, ""},
		{"negative dim", matFile(t, le, false, body(flags, dims(-1, 2), name)), ErrFormat, "dimension 0 is -1"},
		{"one dim", matFile(t, le, false, body(flags, dims(3), name)), ErrFormat, "two or more"},
		{"flags type", matFile(t, le, false, body(matSub(le, miINT8, make([]byte, 8), false), dims(1, 1), name)), ErrFormat, "array flags"},
		{"no name", matFile(t, le, false, body(flags, dims(1, 1))), ErrFormat, "array name"},
		{"name type", matFile(t, le, false, body(flags, dims(1, 1), matSub(le, miDOUBLE, make([]byte, 8), false))), ErrFormat, "array name"},
		{"small too big", matFile(t, le, false, body(flags, dims(1, 1), smallTooBig)), ErrFormat, "small element"},
		{"no data", matFile(t, le, false, body(flags, dims(1, 1), name)), ErrFormat, "real part"},
		{"data size", matFile(t, le, false, u8("X", []int{3, 3}, make([]byte, 8))), ErrFormat, "8 bytes for 9 elements"},
		{"data type", matFile(t, le, false, body(flags, dims(1, 1), name, matSub(le, miMATRIX, nil, false))), ErrFormat, "not numeric"},
		{"sub-element overrun", matFile(t, le, false, body(flags, dims(1, 1), name, le.AppendUint32(le.AppendUint32(nil, miUINT8), 99))), ErrFormat, "declares 99 bytes"},
		{"small at top", slices.Concat(good[:128], smallTooBig), ErrFormat, "small data element"},
	}
	for _, tc := range tests {
		_, err := ReadMAT(bytes.NewReader(tc.in), 1000)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
	// With the stream size known, an element larger than the rest of the
	// file is caught before it is allocated.
	huge := slices.Concat(good[:128], le.AppendUint32(le.AppendUint32(nil, miMATRIX), 1<<30))
	if _, err := readMAT(bytes.NewReader(huge), int64(len(huge)), MaxMATBytes); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "left") {
		t.Errorf("oversized element in a small file: %v", err)
	}
}

func FuzzReadMAT(f *testing.F) {
	for _, o := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		x := matMatrix(o, matVarSpec{name: "X", class: MATUint8, dims: []int{32, 32, 3, 1}, typ: miUINT8, data: make([]byte, 3072)})
		y := matMatrix(o, matVarSpec{name: "y", class: MATDouble, dims: []int{1, 1}, typ: miDOUBLE, data: f64Bytes(o, 10)})
		f.Add(matFile(f, o, false, x, y))
		f.Add(matFile(f, o, true, x, y))
	}
	le := binaryLE()
	small := matMatrix(le, matVarSpec{name: "a", class: MATDouble, dims: []int{1, 2}, typ: miUINT8, data: []byte{1, 2}})
	f.Add(matFile(f, le, false, small))
	f.Add(matFile(f, le, true, small))
	f.Add(matHeader(le, 0x0100))
	f.Fuzz(func(t *testing.T, in []byte) {
		vars, err := ReadMAT(bytes.NewReader(in), 1<<16)
		if err != nil {
			return
		}
		for _, v := range vars {
			if f, err := v.Float64(); err == nil && len(f) != v.Len() {
				t.Fatalf("%q: %d values for dimensions %v", v.Name, len(f), v.Dims)
			}
			if b, err := v.Uint8(); err == nil && len(b) != v.Len() {
				t.Fatalf("%q: %d bytes for dimensions %v", v.Name, len(b), v.Dims)
			}
		}
		if s, err := svhnFromVars(vars); err == nil {
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// binaryLE returns little-endian byte order as a byteOrder.
func binaryLE() byteOrder { return binary.LittleEndian }
