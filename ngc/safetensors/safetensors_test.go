package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// encode writes f and fails the test on error.
func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// rawFile assembles a file from a header and a buffer, without padding.
func rawFile(header string, buf []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, buf...)
}

// f32s returns the little-endian bytes of vs.
func f32s(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func bits32(u uint32) float32 { return math.Float32frombits(u) }

// checkSame fails the test unless got and want hold the same metadata and
// the same tensors in the same order, with bit-identical values.
func checkSame(t testing.TB, got, want *File) {
	t.Helper()
	if len(got.Metadata) != len(want.Metadata) {
		t.Fatalf("metadata = %q, want %q", got.Metadata, want.Metadata)
	}
	for k, v := range want.Metadata {
		if g, ok := got.Metadata[k]; !ok || g != v {
			t.Fatalf("metadata = %q, want %q", got.Metadata, want.Metadata)
		}
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for i, w := range want.Tensors {
		g := got.Tensors[i]
		if g.Name != w.Name || !slices.Equal(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Fatalf("tensor %d = %q %v (%d values), want %q %v (%d values)",
				i, g.Name, g.Shape, len(g.Data), w.Name, w.Shape, len(w.Data))
		}
		for j := range w.Data {
			if math.Float32bits(g.Data[j]) != math.Float32bits(w.Data[j]) {
				t.Fatalf("tensor %q value %d = %#08x, want %#08x", w.Name, j,
					math.Float32bits(g.Data[j]), math.Float32bits(w.Data[j]))
			}
		}
	}
}

func randomData(r *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return d
}

// specials are values whose bits must survive a round trip.
var specials = []float32{
	0, bits32(0x80000000), // ±0
	float32(math.Inf(1)), float32(math.Inf(-1)),
	bits32(0x7fc00000), bits32(0x7fc00001), bits32(0xffc12345), // quiet NaNs with payloads
	bits32(0x7f800001), bits32(0xffbfffff), // signalling NaNs
	bits32(0x00000001), bits32(0x007fffff), bits32(0x80000001), // subnormals
	math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1, -1, 0.1,
}

func roundTripCases() map[string]*File {
	r := rand.New(rand.NewPCG(1, 2))
	return map[string]*File{
		"empty":      {},
		"no tensors": {Metadata: map[string]string{"format": "pt"}},
		"metadata": {Metadata: map[string]string{
			"":                "",
			"config":          `{"layers":[1,2],"beta":0.1}`,
			"snow ☃":          "line\nbreak\t\"quoted\" back\\slash \x01\x1f \u2028 <&>",
			ChecksumKey + "x": "not the checksum",
		}},
		"scalar":   {Tensors: []Tensor{{Name: "s", Data: []float32{3.5}}}},
		"specials": {Tensors: []Tensor{{Name: "x", Shape: []int{len(specials)}, Data: specials}}},
		"zero-size": {Tensors: []Tensor{
			{Name: "z0", Shape: []int{0}},
			{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
			{Name: "z1", Shape: []int{3, 0}, Data: []float32{}},
			{Name: "z2", Shape: []int{0, 5}},
			{Name: "b", Shape: []int{1}, Data: []float32{3}},
			{Name: "z3", Shape: []int{0}},
		}},
		"checkpoint": {
			Metadata: map[string]string{"format": "convngc/1", "updates": "12"},
			Tensors: []Tensor{
				{Name: "W.1", Shape: []int{4, 1, 3, 3}, Data: randomData(r, 36)},
				{Name: "adam.m.W.1", Shape: []int{4, 1, 3, 3}, Data: randomData(r, 36)},
				{Name: "b.1", Shape: []int{1}, Data: randomData(r, 1)},
				{Name: "W.2", Shape: []int{8, 4, 3, 3}, Data: randomData(r, 288)},
				{Name: "b.2", Shape: []int{4}, Data: randomData(r, 4)},
			},
		},
		"names": {Tensors: []Tensor{
			{Name: "", Shape: []int{1}, Data: []float32{1}},
			{Name: "with space", Shape: []int{1}, Data: []float32{2}},
			{Name: `quote"back\slash`, Shape: []int{1}, Data: []float32{3}},
			{Name: "ü/ß/日本", Shape: []int{1}, Data: []float32{4}},
			{Name: "<&>", Shape: []int{1}, Data: []float32{5}},
			{Name: "b", Shape: []int{1}, Data: []float32{6}}, // not sorted: order is kept
			{Name: "a", Shape: []int{1}, Data: []float32{7}},
		}},
		"large": {Tensors: []Tensor{
			{Name: "big", Shape: []int{3, 70000}, Data: randomData(r, 210000)}, // spans several chunks
			{Name: "tail", Shape: []int{3}, Data: []float32{1, 2, 3}},
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	for name, f := range roundTripCases() {
		t.Run(name, func(t *testing.T) {
			data := encode(t, f)
			got, err := Read(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			want := &File{Metadata: map[string]string{}, Tensors: f.Tensors}
			for k, v := range f.Metadata {
				want.Metadata[k] = v
			}
			checkSame(t, got, want)
			if again := encode(t, got); !bytes.Equal(again, data) {
				t.Errorf("re-encoding the decoded file changed its bytes")
			}
		})
	}
}

func TestWriteLayout(t *testing.T) {
	f := &File{
		Metadata: map[string]string{"format": "pt", "a": "b"},
		Tensors: []Tensor{
			{Name: "w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
			{Name: "b", Shape: []int{3}, Data: []float32{7, 8, 9}},
			{Name: "s", Data: []float32{10}},
		},
	}
	data := encode(t, f)
	n := binary.LittleEndian.Uint64(data)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	header := string(data[8 : 8+n])
	trimmed := strings.TrimRight(header, " ")
	if len(header)-len(trimmed) >= 8 || !strings.HasPrefix(header, "{") || !strings.HasSuffix(trimmed, "}") {
		t.Errorf("header %q is not an object padded with fewer than 8 spaces", header)
	}
	if !strings.HasPrefix(header, `{"__metadata__":{"a":"b","convngc.sha256":"`) {
		t.Errorf("header %q does not start with the sorted metadata", header)
	}
	wantTail := `,"format":"pt"},` +
		`"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},` +
		`"b":{"dtype":"F32","shape":[3],"data_offsets":[24,36]},` +
		`"s":{"dtype":"F32","shape":[],"data_offsets":[36,40]}}`
	if !strings.HasSuffix(trimmed, wantTail) {
		t.Errorf("header %q does not end with %q", header, wantTail)
	}
	if got, want := data[8+n:], f32s(1, 2, 3, 4, 5, 6, 7, 8, 9, 10); !bytes.Equal(got, want) {
		t.Errorf("buffer = % x, want % x", got, want)
	}
	// The header is plain JSON for any parser.
	var generic map[string]json.RawMessage
	if err := json.Unmarshal([]byte(header), &generic); err != nil {
		t.Errorf("encoding/json cannot parse the header: %v", err)
	}
}

// TestChecksumSpec recomputes the digest from the description in the
// package documentation, independently of the package's code.
func TestChecksumSpec(t *testing.T) {
	f := &File{
		Metadata: map[string]string{"z": "last", "a": "first"},
		Tensors: []Tensor{
			{Name: "w", Shape: []int{2, 1}, Data: []float32{1, -2}},
			{Name: "s", Data: []float32{0.5}},
		},
	}
	data := encode(t, f)
	h, err := ReadHeader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	num := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	str := func(s string) { num(uint64(len(s))); b = append(b, s...) }
	num(2)
	str("a")
	str("first")
	str("z")
	str("last")
	num(2)
	str("w")
	str("F32")
	num(2)
	num(2)
	num(1)
	num(0)
	num(8)
	str("s")
	str("F32")
	num(0)
	num(8)
	num(12)
	b = append(b, f32s(1, -2, 0.5)...)
	sum := sha256.Sum256(b)
	if got, want := h.Metadata[ChecksumKey], hex.EncodeToString(sum[:]); got != want {
		t.Errorf("stored checksum %s, documented construction gives %s", got, want)
	}
}

func TestWriteInvalid(t *testing.T) {
	tests := []struct {
		name string
		f    *File
	}{
		{"nil file", nil},
		{"too few values", &File{Tensors: []Tensor{{Name: "a", Shape: []int{2, 2}, Data: make([]float32, 3)}}}},
		{"too many values", &File{Tensors: []Tensor{{Name: "a", Shape: []int{2}, Data: make([]float32, 3)}}}},
		{"scalar without value", &File{Tensors: []Tensor{{Name: "a"}}}},
		{"negative dimension", &File{Tensors: []Tensor{{Name: "a", Shape: []int{-1, -2}, Data: make([]float32, 2)}}}},
		{"overflowing shape", &File{Tensors: []Tensor{{Name: "a", Shape: []int{math.MaxInt, 2, 0}}}}},
		{"duplicate name", &File{Tensors: []Tensor{{Name: "a", Data: []float32{1}}, {Name: "a", Data: []float32{2}}}}},
		{"reserved name", &File{Tensors: []Tensor{{Name: "__metadata__", Data: []float32{1}}}}},
		{"invalid UTF-8 name", &File{Tensors: []Tensor{{Name: "a\xff", Data: []float32{1}}}}},
		{"invalid UTF-8 metadata key", &File{Metadata: map[string]string{"\xc3": "v"}}},
		{"invalid UTF-8 metadata value", &File{Metadata: map[string]string{"k": "\xc3("}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.f)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Write error = %v, want ErrInvalid", err)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
			path := filepath.Join(t.TempDir(), "x.safetensors")
			if err := WriteFile(path, tt.f); !errors.Is(err, ErrInvalid) {
				t.Errorf("WriteFile error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestWriteReplacesChecksumKey(t *testing.T) {
	f := &File{Metadata: map[string]string{ChecksumKey: "bogus", "k": "v"}, Tensors: []Tensor{{Name: "a", Data: []float32{1}}}}
	got, err := Read(bytes.NewReader(encode(t, f)))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkSame(t, got, &File{Metadata: map[string]string{"k": "v"}, Tensors: f.Tensors})
	if f.Metadata[ChecksumKey] != "bogus" {
		t.Errorf("Write modified the caller's metadata")
	}
}

// errWriter fails after accepting n bytes.
type errWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	f := &File{Tensors: []Tensor{{Name: "a", Shape: []int{100000}, Data: make([]float32, 100000)}}}
	for _, n := range []int{0, 10, 100, 70000, 300000} {
		if err := Write(&errWriter{n: n}, f); !errors.Is(err, errDiskFull) {
			t.Errorf("writer failing after %d bytes: error = %v, want one wrapping errDiskFull", n, err)
		}
	}
}

func TestGet(t *testing.T) {
	f := &File{Tensors: []Tensor{{Name: "a", Data: []float32{1}}, {Name: "b", Shape: []int{2}, Data: []float32{2, 3}}}}
	tests := []struct {
		name string
		ok   bool
		n    int
	}{{"a", true, 1}, {"b", true, 2}, {"c", false, 0}, {"", false, 0}}
	for _, tt := range tests {
		got, ok := f.Get(tt.name)
		if ok != tt.ok || len(got.Data) != tt.n || (ok && got.Name != tt.name) {
			t.Errorf("Get(%q) = %+v, %v; want %d values, %v", tt.name, got, ok, tt.n, tt.ok)
		}
	}
	var nilFile *File
	if _, ok := nilFile.Get("a"); ok {
		t.Errorf("nil File: Get found a tensor")
	}
}

func TestWriteFileReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	f1 := roundTripCases()["checkpoint"]
	if err := WriteFile(path, f1); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	checkSame(t, got, f1)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; want 0644", st.Mode(), err)
	}

	// Overwrite with new content.
	f2 := roundTripCases()["specials"]
	if err := WriteFile(path, f2); err != nil {
		t.Fatalf("WriteFile over an existing file: %v", err)
	}
	if got, err = ReadFile(path); err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	checkSame(t, got, f2)

	// A failed write leaves the old file and no temporary file.
	bad := &File{Tensors: []Tensor{{Name: "a", Shape: []int{2}}}}
	if err := WriteFile(path, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("WriteFile(invalid) = %v, want ErrInvalid", err)
	}
	if got, err = ReadFile(path); err != nil {
		t.Fatalf("ReadFile after a failed write: %v", err)
	}
	checkSame(t, got, f2)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v (%v), want only the file", entries, err)
	}

	if err := WriteFile(filepath.Join(dir, "missing", "x.safetensors"), f1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile into a missing directory: %v, want fs.ErrNotExist", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
	}
}
