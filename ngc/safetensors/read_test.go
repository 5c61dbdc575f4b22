package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// referenceFile is laid out, byte for byte, as the reference implementation
// (huggingface/safetensors, serialize) lays out
//
//	save_file({"a": F32 [[1, -2], [0.5, 3]], "b": F16 [1, -0, 65504, 2⁻²⁴],
//	           "c": I64 [-3, 2⁴⁰]}, metadata={"format": "pt"})
//
// metadata first; tensors ordered by decreasing dtype, then by name; the
// header padded with spaces to a multiple of 8 bytes.
var referenceFile = []byte("" +
	"\xc8\x00\x00\x00\x00\x00\x00\x00" + // header length: 200
	`{"__metadata__":{"format":"pt"},` +
	`"c":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},` +
	`"a":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]},` +
	`"b":{"dtype":"F16","shape":[4],"data_offsets":[32,40]}}` +
	"  " + // padding
	"\xfd\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x01\x00\x00" + // c
	"\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x00\x00\x3f\x00\x00\x40\x40" + // a
	"\x00\x3c\x00\x80\xff\x7b\x01\x00") // b

func TestReadReference(t *testing.T) {
	want := &File{
		Metadata: map[string]string{"format": "pt"},
		Tensors: []Tensor{
			{Name: "c", Shape: []int{2}, Data: []float32{-3, 1 << 40}},
			{Name: "a", Shape: []int{2, 2}, Data: []float32{1, -2, 0.5, 3}},
			{Name: "b", Shape: []int{4}, Data: []float32{1, bits32(0x80000000), 65504, 0x1p-24}},
		},
	}
	got, err := Read(bytes.NewReader(referenceFile))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkSame(t, got, want)

	path := filepath.Join(t.TempDir(), "ref.safetensors")
	if err := os.WriteFile(path, referenceFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err = ReadFile(path); err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	checkSame(t, got, want)

	h, err := ReadHeader(bytes.NewReader(referenceFile))
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	wantInfo := []TensorInfo{
		{Name: "c", DType: I64, Shape: []int{2}, Begin: 0, End: 16},
		{Name: "a", DType: F32, Shape: []int{2, 2}, Begin: 16, End: 32},
		{Name: "b", DType: F16, Shape: []int{4}, Begin: 32, End: 40},
	}
	if len(h.Tensors) != len(wantInfo) || h.Metadata["format"] != "pt" || len(h.Metadata) != 1 {
		t.Fatalf("ReadHeader = %+v", h)
	}
	for i, w := range wantInfo {
		g := h.Tensors[i]
		if g.Name != w.Name || g.DType != w.DType || g.Begin != w.Begin || g.End != w.End || len(g.Shape) != len(w.Shape) {
			t.Errorf("tensor %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestReadHeaderStopsAtBuffer(t *testing.T) {
	data := encode(t, roundTripCases()["checkpoint"])
	r := bytes.NewReader(data)
	h, err := ReadHeader(r)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if _, ok := h.Metadata[ChecksumKey]; !ok {
		t.Errorf("ReadHeader dropped the checksum key: %q", h.Metadata)
	}
	last := h.Tensors[len(h.Tensors)-1]
	if int64(r.Len()) != last.End {
		t.Errorf("ReadHeader left %d bytes, want the %d-byte buffer", r.Len(), last.End)
	}
	if _, err := ReadHeader(bytes.NewReader(data[:20])); !errors.Is(err, ErrTruncated) {
		t.Errorf("ReadHeader(truncated) = %v, want ErrTruncated", err)
	}
}

// TestReadAccepts reads files that other writers may produce.
func TestReadAccepts(t *testing.T) {
	tests := []struct {
		name   string
		header string
		buf    []byte
		want   []Tensor
		meta   map[string]string
	}{
		{"empty object", `{}`, nil, nil, nil},
		{"only metadata", `{"__metadata__":{"k":"v"}}`, nil, nil, map[string]string{"k": "v"}},
		{"null metadata", `{"__metadata__":null}`, nil, nil, nil},
		{"empty metadata", `{"__metadata__":{}}`, nil, nil, nil},
		{
			"whitespace padding", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   \t\r\n",
			f32s(1), []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}}, nil,
		},
		{
			"pretty printed", "{\n  \"a\" : {\n    \"dtype\" : \"F32\",\n    \"shape\" : [ 1 ],\n    \"data_offsets\" : [ 0 , 4 ]\n  }\n}",
			f32s(2), []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{2}}}, nil,
		},
		{
			"unknown field", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":{"x":[1,2]}}}`,
			f32s(3), []Tensor{{Name: "a", Shape: []int{1}, Data: []float32{3}}}, nil,
		},
		{
			"fields reordered", `{"a":{"data_offsets":[0,4],"shape":[],"dtype":"F32"}}`,
			f32s(4), []Tensor{{Name: "a", Shape: []int{}, Data: []float32{4}}}, nil,
		},
		{
			"header order differs from buffer order",
			`{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"__metadata__":{"x":"y"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
			f32s(5, 6),
			[]Tensor{{Name: "a", Shape: []int{1}, Data: []float32{5}}, {Name: "b", Shape: []int{1}, Data: []float32{6}}},
			map[string]string{"x": "y"},
		},
		{
			"zero-size tensors share an offset",
			`{"z":{"dtype":"F32","shape":[0,4],"data_offsets":[4,4]},"y":{"dtype":"F64","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
			f32s(7),
			[]Tensor{{Name: "a", Shape: []int{1}, Data: []float32{7}}, {Name: "z", Shape: []int{0, 4}}, {Name: "y", Shape: []int{0}}},
			nil,
		},
		{
			"escaped names", `{"\u0041\"\\":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
			f32s(8), []Tensor{{Name: "A\"\\", Shape: []int{1}, Data: []float32{8}}}, nil,
		},
		{
			"foreign checksum-like key", `{"__metadata__":{"sha256":"abc"}}`, nil, nil, map[string]string{"sha256": "abc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(rawFile(tt.header, tt.buf)))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			meta := tt.meta
			if meta == nil {
				meta = map[string]string{}
			}
			checkSame(t, got, &File{Metadata: meta, Tensors: tt.want})
		})
	}
}

func TestReadDTypes(t *testing.T) {
	le := binary.LittleEndian
	u16s := func(vs ...uint16) (b []byte) {
		for _, v := range vs {
			b = le.AppendUint16(b, v)
		}
		return b
	}
	u32s := func(vs ...uint32) (b []byte) {
		for _, v := range vs {
			b = le.AppendUint32(b, v)
		}
		return b
	}
	u64s := func(vs ...uint64) (b []byte) {
		for _, v := range vs {
			b = le.AppendUint64(b, v)
		}
		return b
	}
	negZero := bits32(0x80000000)
	tests := []struct {
		dtype DType
		buf   []byte
		want  []float32
	}{
		{F32, u32s(0x7fc00001, 0x80000000, 0x00000001), []float32{bits32(0x7fc00001), negZero, bits32(1)}},
		{F64, u64s(math.Float64bits(1.5), math.Float64bits(math.Copysign(0, -1)), math.Float64bits(1e300), math.Float64bits(0.1), math.Float64bits(math.Inf(-1))),
			[]float32{1.5, negZero, float32(math.Inf(1)), 0.1, float32(math.Inf(-1))}},
		{F16, u16s(0x3c00, 0x8000, 0x7c00, 0xfc00, 0x0001, 0x03ff, 0x7bff, 0xc000, 0x3555),
			[]float32{1, negZero, float32(math.Inf(1)), float32(math.Inf(-1)), 0x1p-24, 1023 * 0x1p-24, 65504, -2, 0.33325195}},
		{BF16, u16s(0x3f80, 0x8000, 0xc0a0, 0x0001), []float32{1, negZero, -5, bits32(0x00010000)}},
		{Bool, []byte{0, 1, 2, 255}, []float32{0, 1, 1, 1}},
		{U8, []byte{0, 1, 255}, []float32{0, 1, 255}},
		{I8, []byte{0, 0x7f, 0x80, 0xff}, []float32{0, 127, -128, -1}},
		{U16, u16s(0, 65535), []float32{0, 65535}},
		{I16, u16s(0x8000, 0xffff, 0x7fff), []float32{-32768, -1, 32767}},
		{U32, u32s(0, 1<<24+1, math.MaxUint32), []float32{0, 1 << 24, 1 << 32}},
		{I32, u32s(0xffffffff, 0x80000000, 1<<24), []float32{-1, -(1 << 31), 1 << 24}},
		{U64, u64s(math.MaxUint64, 3), []float32{1 << 64, 3}},
		{I64, u64s(math.MaxUint64, 1<<63, 1<<53+1), []float32{-1, -(1 << 63), 1 << 53}},
	}
	for _, tt := range tests {
		t.Run(string(tt.dtype), func(t *testing.T) {
			header := `{"x":{"dtype":"` + string(tt.dtype) + `","shape":[` + strconv.Itoa(len(tt.want)) + `],"data_offsets":[0,` + strconv.Itoa(len(tt.buf)) + `]}}`
			got, err := Read(bytes.NewReader(rawFile(header, tt.buf)))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			checkSame(t, got, &File{Tensors: []Tensor{{Name: "x", Shape: []int{len(tt.want)}, Data: tt.want}}})
		})
	}
}

// TestFloat16Exhaustive checks every binary16 bit pattern against its value
// computed in float64.
func TestFloat16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		got := float16to32(uint16(h))
		sign, exp, man := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case exp == 0x1f && man != 0:
			if w := uint32(sign)<<31 | 0x7f800000 | uint32(man)<<13; math.Float32bits(got) != w {
				t.Fatalf("NaN %#04x -> %#08x, want %#08x", h, math.Float32bits(got), w)
			}
			continue
		case exp == 0x1f:
			want = math.Inf(1)
		case exp == 0:
			want = math.Ldexp(float64(man), -24)
		default:
			want = math.Ldexp(float64(1024+man), exp-25)
		}
		if sign == 1 {
			want = -want
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Fatalf("%#04x -> %v, want %v", h, got, want)
		}
	}
}

type corruptCase struct {
	name string
	data []byte
	want error
}

// validHeader describes two F32 values at [0, 8).
const validHeader = `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`

func lengthOnly(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

func corruptCases(tb testing.TB) []corruptCase {
	tb.Helper()
	eight := f32s(1, 2)
	tensor := func(name, dtype, shape, offsets string) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	one := func(dtype, shape, offsets string) []byte {
		return rawFile("{"+tensor("a", dtype, shape, offsets)+"}", eight)
	}
	good := encode(tb, &File{
		Metadata: map[string]string{"k": "value"},
		Tensors: []Tensor{
			{Name: "alpha", Shape: []int{2}, Data: []float32{1, 2}},
			{Name: "beta", Shape: []int{1}, Data: []float32{3}},
		},
	})
	tamper := func(old, new string) []byte {
		if len(old) != len(new) || !bytes.Contains(good, []byte(old)) {
			tb.Fatalf("cannot replace %q by %q", old, new)
		}
		return bytes.Replace(bytes.Clone(good), []byte(old), []byte(new), 1)
	}
	flipLast := bytes.Clone(good)
	flipLast[len(flipLast)-1] ^= 1
	withSum := func(sum string) []byte {
		return rawFile(`{"__metadata__":{"`+ChecksumKey+`":"`+sum+`"},`+tensor("a", "F32", "[2]", "[0,8]")+"}", eight)
	}

	return []corruptCase{
		// Length prefix.
		{"empty input", nil, ErrTruncated},
		{"short length", []byte{2, 0, 0, 0, 0, 0, 0}, ErrTruncated},
		{"header longer than file", lengthOnly(1000, `{}`), ErrTruncated},
		{"header over the limit", lengthOnly(DefaultMaxHeaderSize+1, `{}`), ErrTooLarge},
		{"header length 2^64-1", lengthOnly(math.MaxUint64, `{}`), ErrTooLarge},
		{"header length zero", lengthOnly(0, ""), ErrCorrupt},
		{"header swallows the buffer", lengthOnly(uint64(len(validHeader))+8, validHeader+string(eight)), ErrCorrupt},

		// JSON.
		{"array", rawFile(`[]`, nil), ErrCorrupt},
		{"leading space", rawFile(` {}`, nil), ErrCorrupt},
		{"unterminated", rawFile(`{"a":`, nil), ErrCorrupt},
		{"not UTF-8", rawFile("{\"\xff\":{}}", nil), ErrCorrupt},
		{"two objects", rawFile(`{}{}`, nil), ErrCorrupt},
		{"text after the object", rawFile(`{} x`, nil), ErrCorrupt},
		{"NUL padding", rawFile("{}\x00\x00", nil), ErrCorrupt},
		{"trailing comma", rawFile(`{"__metadata__":{},}`, nil), ErrCorrupt},
		{"tensor not an object", rawFile(`{"a":[0,8]}`, eight), ErrCorrupt},
		{"tensor null", rawFile(`{"a":null}`, nil), ErrCorrupt},
		{"duplicate tensor", rawFile("{"+tensor("a", "F32", "[1]", "[0,4]")+","+tensor("a", "F32", "[1]", "[4,8]")+"}", eight), ErrCorrupt},
		{"duplicate field", rawFile(`{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), ErrCorrupt},
		{"field name case", rawFile(`{"a":{"DType":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), ErrCorrupt},
		{"missing dtype", rawFile(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, eight), ErrCorrupt},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, eight), ErrCorrupt},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[2]}}`, eight), ErrCorrupt},

		// Metadata.
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), ErrCorrupt},
		{"duplicate metadata key", rawFile(`{"__metadata__":{"k":"a","k":"b"}}`, nil), ErrCorrupt},
		{"metadata number", rawFile(`{"__metadata__":{"k":1}}`, nil), ErrCorrupt},
		{"metadata null value", rawFile(`{"__metadata__":{"k":null}}`, nil), ErrCorrupt},
		{"metadata array", rawFile(`{"__metadata__":["k"]}`, nil), ErrCorrupt},

		// Dtype.
		{"dtype number", rawFile(`{"a":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}`, eight), ErrCorrupt},
		{"dtype null", rawFile(`{"a":{"dtype":null,"shape":[2],"data_offsets":[0,8]}}`, eight), ErrCorrupt},
		{"unknown dtype", one("F8_E4M3", "[8]", "[0,8]"), ErrDType},
		{"lower-case dtype", one("f32", "[2]", "[0,8]"), ErrDType},
		{"empty dtype", one("", "[2]", "[0,8]"), ErrDType},

		// Shape.
		{"shape null", rawFile(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,8]}}`, eight), ErrCorrupt},
		{"shape number", rawFile(`{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}`, eight), ErrCorrupt},
		{"negative dimension", one("F32", "[-2]", "[0,8]"), ErrCorrupt},
		{"negative dimensions", one("F32", "[-1,-2]", "[0,8]"), ErrCorrupt},
		{"fractional dimension", one("F32", "[2.0]", "[0,8]"), ErrCorrupt},
		{"exponent dimension", one("F32", "[2e0]", "[0,8]"), ErrCorrupt},
		{"string dimension", one("F32", `["2"]`, "[0,8]"), ErrCorrupt},
		{"null dimension", one("F32", `[null]`, "[0,8]"), ErrCorrupt},
		{"huge dimension", one("F32", "[18446744073709551616]", "[0,8]"), ErrCorrupt},
		{"shape overflows", one("F32", "[4611686018427387904,4611686018427387904,0]", "[0,0]"), ErrCorrupt},
		{"size overflows", one("F64", "[4611686018427387904]", "[0,8]"), ErrCorrupt},
		{"shape too big for offsets", one("F32", "[3]", "[0,8]"), ErrCorrupt},
		{"shape too small for offsets", one("F32", "[1]", "[0,8]"), ErrCorrupt},
		{"dtype too wide for offsets", one("F64", "[2]", "[0,8]"), ErrCorrupt},

		// Offsets.
		{"one offset", one("F32", "[2]", "[8]"), ErrCorrupt},
		{"three offsets", one("F32", "[2]", "[0,8,8]"), ErrCorrupt},
		{"offsets object", one("F32", "[2]", `{"begin":0}`), ErrCorrupt},
		{"reversed offsets", one("F32", "[0]", "[8,0]"), ErrCorrupt},
		{"negative offset", one("F32", "[2]", "[-8,0]"), ErrCorrupt},
		{"offset beyond int64", one("F32", "[0]", "[9223372036854775808,9223372036854775808]"), ErrCorrupt},
		{"gap at start", rawFile("{"+tensor("a", "F32", "[1]", "[4,8]")+"}", eight), ErrCorrupt},
		{"gap between", rawFile("{"+tensor("a", "F32", "[1]", "[0,4]")+","+tensor("b", "F32", "[1]", "[8,12]")+"}", f32s(1, 2, 3)), ErrCorrupt},
		{"overlap", rawFile("{"+tensor("a", "F32", "[2]", "[0,8]")+","+tensor("b", "F32", "[2]", "[4,12]")+"}", f32s(1, 2, 3)), ErrCorrupt},
		{"same range twice", rawFile("{"+tensor("a", "F32", "[2]", "[0,8]")+","+tensor("b", "F32", "[2]", "[0,8]")+"}", eight), ErrCorrupt},

		// Buffer.
		{"buffer short", rawFile(validHeader, eight[:5]), ErrTruncated},
		{"buffer missing", rawFile(validHeader, nil), ErrTruncated},
		{"huge tensor, no data", one("F32", "[268435456]", "[0,1073741824]"), ErrTruncated},
		{"trailing byte", rawFile(validHeader, append(bytes.Clone(eight), 0)), ErrCorrupt},
		{"trailing data", rawFile(`{}`, eight), ErrCorrupt},

		// Checksum.
		{"data tampered", flipLast, ErrChecksum},
		{"tensor renamed", tamper(`"alpha"`, `"alphA"`), ErrChecksum},
		{"tensors swapped", tamper(`"alpha":{"dtype":"F32","shape":[2]`, `"betaa":{"dtype":"F32","shape":[2]`), ErrChecksum},
		{"metadata edited", tamper(`"value"`, `"vAlue"`), ErrChecksum},
		{"checksum short", withSum("abc"), ErrChecksum},
		{"checksum not hex", withSum(strings.Repeat("zz", 32)), ErrChecksum},
		{"checksum wrong", withSum(strings.Repeat("00", 32)), ErrChecksum},
	}
}

func TestReadCorrupt(t *testing.T) {
	dir := t.TempDir()
	for i, tt := range corruptCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.data))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read error = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q does not name the package", err)
			}
			path := filepath.Join(dir, "case"+strconv.Itoa(i))
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = ReadFile(path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadFile error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("ReadFile error %q does not name the file", err)
			}
		})
	}
}

// TestReadTruncatedEverywhere cuts a valid file at every length (for
// ReadFile, at a sample of them and around the end of the header).
func TestReadTruncatedEverywhere(t *testing.T) {
	data := encode(t, roundTripCases()["zero-size"])
	path := filepath.Join(t.TempDir(), "cut")
	hdrEnd := 8 + int(binary.LittleEndian.Uint64(data))
	for n := range len(data) {
		if _, err := Read(bytes.NewReader(data[:n])); !errors.Is(err, ErrTruncated) {
			t.Fatalf("Read of the first %d of %d bytes: %v, want ErrTruncated", n, len(data), err)
		}
		if n%16 != 0 && (n < hdrEnd-2 || n > hdrEnd+2) {
			continue // ReadFile on a sample of the cuts: files are slow
		}
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path); !errors.Is(err, ErrTruncated) {
			t.Fatalf("ReadFile of the first %d of %d bytes: %v, want ErrTruncated", n, len(data), err)
		}
	}
}

// TestReadBitFlips flips every bit of a file written by Write: each flip is
// refused, except inside the checksum key's own name, which turns the file
// into one without a checksum and must then show in the metadata.
func TestReadBitFlips(t *testing.T) {
	orig := &File{
		Metadata: map[string]string{"format": "pt"},
		Tensors: []Tensor{
			{Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
			{Name: "b", Shape: []int{2}, Data: []float32{5, 6}},
		},
	}
	data := encode(t, orig)
	keyAt := bytes.Index(data, []byte(`"`+ChecksumKey+`"`))
	for i := range data {
		for bit := range 8 {
			flipped := bytes.Clone(data)
			flipped[i] ^= 1 << bit
			got, err := Read(bytes.NewReader(flipped))
			if err != nil {
				continue
			}
			if i > keyAt && i <= keyAt+len(ChecksumKey) {
				if len(got.Metadata) != len(orig.Metadata)+1 {
					t.Errorf("flip of byte %d bit %d hid the checksum without a trace", i, bit)
				}
				continue
			}
			t.Errorf("flip of byte %d bit %d (%q) was accepted", i, bit, data[i])
		}
	}
}

func TestReadLimits(t *testing.T) {
	data := encode(t, roundTripCases()["checkpoint"])
	n := int64(binary.LittleEndian.Uint64(data))
	path := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []Option
		want error
	}{
		{"defaults", nil, nil},
		{"header exactly at the limit", []Option{WithMaxHeaderSize(n)}, nil},
		{"header over the limit", []Option{WithMaxHeaderSize(n - 1)}, ErrTooLarge},
		{"no header limit", []Option{WithMaxHeaderSize(0)}, nil},
		{"size exactly at the limit", []Option{WithMaxSize(int64(len(data)))}, nil},
		{"size over the limit", []Option{WithMaxSize(int64(len(data)) - 1)}, ErrTooLarge},
		{"header over the size limit", []Option{WithMaxSize(n)}, ErrTooLarge},
		{"no size limit", []Option{WithMaxSize(-1)}, nil},
		{"nil option", []Option{nil}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Read(bytes.NewReader(data), tt.opts...); !errors.Is(err, tt.want) {
				t.Errorf("Read = %v, want %v", err, tt.want)
			}
			if _, err := ReadFile(path, tt.opts...); !errors.Is(err, tt.want) {
				t.Errorf("ReadFile = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReadAllocatesAsDataArrives feeds headers that announce far more data
// than follows them and checks that little memory is allocated.
func TestReadAllocatesAsDataArrives(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"1 GiB tensor", rawFile(`{"a":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`, f32s(1, 2, 3, 4))},
		{"1 GiB of U8", rawFile(`{"a":{"dtype":"U8","shape":[1073741824],"data_offsets":[0,1073741824]}}`, f32s(1, 2, 3, 4))},
		{"90 MB header", lengthOnly(90_000_000, `{"a":`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(bytes.NewReader(tt.data))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("Read = %v, want ErrTruncated", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("Read allocated %d bytes for a %d-byte input", alloc, len(tt.data))
			}
		})
	}
}

// errReader returns data, then err.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadReaderError(t *testing.T) {
	errBroken := errors.New("broken pipe")
	data := encode(t, roundTripCases()["checkpoint"])
	for _, n := range []int{0, 4, 8, 30, len(data) / 2, len(data)} {
		_, err := Read(&errReader{data: data[:n], err: errBroken})
		if !errors.Is(err, errBroken) || errors.Is(err, ErrCorrupt) {
			t.Errorf("reader failing after %d bytes: %v, want the reader's error", n, err)
		}
	}
	// A reader that ends cleanly after a complete file is fine.
	if _, err := Read(&errReader{data: data, err: io.EOF}); err != nil {
		t.Errorf("Read: %v", err)
	}
}
