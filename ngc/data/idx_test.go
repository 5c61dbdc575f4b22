package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes encodes an unsigned-byte IDX array.
func idxBytes(dims []int, data []byte) []byte {
	b := []byte{0, 0, idxUnsignedByte, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

// gzipBytes compresses b.
func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	good := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"plain", good},
		{"gzip", gzipBytes(t, good)},
	} {
		a, err := ReadIDX(bytes.NewReader(tc.in), 100)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(a.Dims, []int{2, 3}) || !slices.Equal(a.Data, []byte{1, 2, 3, 4, 5, 6}) {
			t.Fatalf("%s: got %v %v", tc.name, a.Dims, a.Data)
		}
	}
	empty, err := ReadIDX(bytes.NewReader(idxBytes([]int{0, 28}, nil)), 100)
	if err != nil || len(empty.Data) != 0 {
		t.Fatalf("empty array: %v, %d bytes", err, len(empty.Data))
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	corruptGz := gzipBytes(t, good)
	corruptGz[len(corruptGz)-6] ^= 0xff // CRC
	huge := idxBytes([]int{1 << 16, 1 << 16, 1 << 16}, nil)
	tests := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrFormat, "magic"},
		{"short magic", []byte{0, 0}, ErrFormat, "magic"},
		{"bad magic", []byte{1, 0, 8, 1, 0, 0, 0, 0}, ErrFormat, "first two bytes"},
		{"int type", []byte{0, 0, 0x0c, 1, 0, 0, 0, 0}, ErrUnsupported, "0x0c"},
		{"no dims", []byte{0, 0, 8, 0}, ErrFormat, "zero dimensions"},
		{"short dims", []byte{0, 0, 8, 2, 0, 0, 0, 1}, ErrFormat, "dimensions"},
		{"truncated body", good[:len(good)-1], ErrFormat, "5 of 6 bytes"},
		{"trailing", append(slices.Clip(good), 9), ErrFormat, "trailing"},
		{"over limit", idxBytes([]int{11, 10}, nil), ErrTooLarge, "[11 10]"},
		{"overflow", huge, ErrTooLarge, "dimensions"},
		{"gzip truncated", gzipBytes(t, good)[:15], ErrFormat, ""},
		{"gzip checksum", corruptGz, ErrFormat, ""},
	}
	for _, tc := range tests {
		_, err := ReadIDX(bytes.NewReader(tc.in), 100)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

// writeMNIST writes MNIST-style files for the given 28×28 images and labels
// into dir, gzip-compressed or plain.
func writeMNIST(t testing.TB, dir, prefix string, images [][]byte, labels []byte, gz bool) {
	t.Helper()
	var pix []byte
	for _, img := range images {
		pix = append(pix, img...)
	}
	imgs := idxBytes([]int{len(images), 28, 28}, pix)
	lbls := idxBytes([]int{len(labels)}, labels)
	suffix := ""
	if gz {
		imgs, lbls, suffix = gzipBytes(t, imgs), gzipBytes(t, lbls), ".gz"
	}
	writeFile(t, dir, prefix+"-images-idx3-ubyte"+suffix, imgs)
	writeFile(t, dir, prefix+"-labels-idx1-ubyte"+suffix, lbls)
}

func TestLoadMNISTSmall(t *testing.T) {
	img := func(v byte) []byte { return bytes.Repeat([]byte{v}, 28*28) }
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		writeMNIST(t, dir, "t10k", [][]byte{img(1), img(2), img(3)}, []byte{7, 0, 9}, gz)
		images, labels, err := LoadMNIST(dir, false)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if len(images) != 3 || !slices.Equal(labels, []int{7, 0, 9}) || images[2][783] != 3 || len(images[1]) != 784 {
			t.Fatalf("gz=%v: %d images, labels %v", gz, len(images), labels)
		}
		if _, _, err := LoadMNIST(dir, true); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing train files: %v", err)
		}
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	img := bytes.Repeat([]byte{1}, 28*28)
	tests := []struct {
		name   string
		write  func(dir string)
		inFile string // the error must name this file
		msg    string
	}{
		{"count mismatch", func(dir string) {
			writeMNIST(t, dir, "train", [][]byte{img, img}, []byte{1}, false)
		}, "train-labels-idx1-ubyte", "1 labels for 2 images"},
		{"bad label", func(dir string) {
			writeMNIST(t, dir, "train", [][]byte{img, img}, []byte{1, 10}, true)
		}, "train-labels-idx1-ubyte.gz", "record 1"},
		{"wrong size", func(dir string) {
			writeFile(t, dir, "train-images-idx3-ubyte", idxBytes([]int{1, 32, 32}, make([]byte, 1024)))
			writeFile(t, dir, "train-labels-idx1-ubyte", idxBytes([]int{1}, []byte{0}))
		}, "train-images-idx3-ubyte", "[1 32 32]"},
		{"labels not 1-D", func(dir string) {
			writeFile(t, dir, "train-images-idx3-ubyte", idxBytes([]int{1, 28, 28}, img))
			writeFile(t, dir, "train-labels-idx1-ubyte", idxBytes([]int{1, 1}, []byte{0}))
		}, "train-labels-idx1-ubyte", "want [N]"},
		{"truncated", func(dir string) {
			b := idxBytes([]int{2, 28, 28}, img)
			writeFile(t, dir, "train-images-idx3-ubyte", b)
			writeFile(t, dir, "train-labels-idx1-ubyte", idxBytes([]int{2}, []byte{0, 1}))
		}, "train-images-idx3-ubyte", "truncated"},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		tc.write(dir)
		_, _, err := LoadMNIST(dir, true)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, tc.inFile)+":") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %q does not name %s and %q", tc.name, err, tc.inFile, tc.msg)
		}
	}
}

func TestLoadMNISTReal(t *testing.T) {
	dir := mnistDir(t)
	for _, tc := range []struct {
		train      bool
		n          int
		firstLabel int
	}{
		{true, 60000, 5},
		{false, 10000, 7},
	} {
		images, labels, err := LoadMNIST(dir, tc.train)
		if err != nil {
			t.Fatal(err)
		}
		if len(images) != tc.n || len(labels) != tc.n {
			t.Fatalf("train=%v: %d images, %d labels, want %d", tc.train, len(images), len(labels), tc.n)
		}
		if labels[0] != tc.firstLabel {
			t.Errorf("train=%v: first label %d, want %d", tc.train, labels[0], tc.firstLabel)
		}
		var counts [10]int
		for _, l := range labels {
			counts[l]++
		}
		for d, c := range counts {
			if c < tc.n/15 {
				t.Errorf("train=%v: only %d images of digit %d", tc.train, c, d)
			}
		}
		// Digits are drawn on a black background: the corners are empty and
		// the centre is not.
		var centre int
		for _, img := range images[:100] {
			if img[0] != 0 || img[783] != 0 {
				t.Fatalf("train=%v: non-zero corner", tc.train)
			}
			centre += int(img[14*28+14])
		}
		if centre == 0 {
			t.Errorf("train=%v: centres all empty", tc.train)
		}
	}
}

func FuzzReadIDX(f *testing.F) {
	good := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	f.Add(good)
	f.Add(gzipBytes(f, good))
	f.Add(idxBytes([]int{1, 28, 28}, make([]byte, 784)))
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ReadIDX(bytes.NewReader(in), 1<<16)
		if err != nil {
			return
		}
		n := 1
		for _, d := range a.Dims {
			n *= d
		}
		if n != len(a.Data) {
			t.Fatalf("dims %v but %d bytes", a.Dims, len(a.Data))
		}
	})
}
