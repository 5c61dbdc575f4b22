package data

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cifarRecords encodes records whose pixels are all (i+1) for record i,
// except the first red byte, which is 200, with the given labels.
func cifarRecords(labels ...byte) []byte {
	var b []byte
	for i, l := range labels {
		rec := bytes.Repeat([]byte{byte(i + 1)}, CIFAR10RecordSize)
		rec[0], rec[1] = l, 200
		b = append(b, rec...)
	}
	return b
}

func TestReadCIFAR10(t *testing.T) {
	s, err := ReadCIFAR10(bytes.NewReader(cifarRecords(3, 9, 0)))
	if err != nil {
		t.Fatal(err)
	}
	checkRange(t, s)
	if s.Len() != 3 || s.Labels[0] != 3 || s.Labels[1] != 9 || s.Labels[2] != 0 {
		t.Fatalf("%d images, labels %v", s.Len(), s.Labels)
	}
	if got := s.Image(1)[0]; got != 200.0/255 {
		t.Errorf("first red byte of record 1 = %v, want %v", got, 200.0/255)
	}
	if got := s.Image(2)[ImageSize-1]; got != 3.0/255 {
		t.Errorf("last blue byte of record 2 = %v, want %v", got, 3.0/255)
	}
	if s.Classes[3] != "cat" {
		t.Errorf("class 3 = %q, want cat", s.Classes[3])
	}
	empty, err := ReadCIFAR10(bytes.NewReader(nil))
	if err != nil || empty.Len() != 0 {
		t.Fatalf("empty input: %v, %d images", err, empty.Len())
	}
}

func TestCIFAR10Errors(t *testing.T) {
	good := cifarRecords(1, 2, 3)
	bad := cifarRecords(1, 2, 3)
	bad[2*CIFAR10RecordSize] = 10
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"truncated", good[:2*CIFAR10RecordSize+100], "record 2"},
		{"label 10", bad, "record 2"},
		{"one byte", []byte{1}, "record 0"},
	}
	for _, tc := range tests {
		_, err := ReadCIFAR10(bytes.NewReader(tc.in))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ReadCIFAR10 %s: %v, want ErrFormat naming %q", tc.name, err, tc.msg)
		}
		dir := t.TempDir()
		p := writeFile(t, dir, "batch.bin", tc.in)
		_, err = LoadCIFAR10Bin(writeFile(t, dir, "ok.bin", good), p)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p+":") {
			t.Errorf("LoadCIFAR10Bin %s: %v, want ErrFormat naming %s", tc.name, err, p)
		}
	}
	// A bad label names the record as well as the file.
	_, err := LoadCIFAR10Bin(writeFile(t, t.TempDir(), "b.bin", bad))
	if err == nil || !strings.Contains(err.Error(), "record 2") || !strings.Contains(err.Error(), "label 10") {
		t.Errorf("bad label: %v", err)
	}
	// A size that is not a multiple of the record is rejected before reading.
	_, err = LoadCIFAR10Bin(writeFile(t, t.TempDir(), "c.bin", good[:CIFAR10RecordSize+1]))
	if err == nil || !strings.Contains(err.Error(), "not a multiple") {
		t.Errorf("odd size: %v", err)
	}
	if _, err := LoadCIFAR10Bin(filepath.Join(t.TempDir(), "missing.bin")); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := LoadCIFAR10Bin(); !errors.Is(err, ErrNoImages) {
		t.Errorf("no files: %v", err)
	}
}

func TestLoadCIFAR10BinConcat(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "data_batch_1.bin", cifarRecords(1, 2))
	b := writeFile(t, dir, "data_batch_2.bin", cifarRecords(7))
	s, err := LoadCIFAR10Bin(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.Labels[2] != 7 || s.Image(2)[5] != 1.0/255 || s.Image(1)[5] != 2.0/255 {
		t.Fatalf("concatenation: %d images, labels %v", s.Len(), s.Labels)
	}
	if s.Name != "cifar10/data_batch_1+data_batch_2" {
		t.Errorf("name %q", s.Name)
	}
}

func TestLoadCIFAR10BinReal(t *testing.T) {
	for _, tc := range []struct {
		file  string
		n     int
		first []int // labels of the first records of the official batch
	}{
		{"test_batch.bin", 1000, []int{3, 8, 8, 0, 6, 6, 1, 6, 3, 1}},
		{"data_batch_1.bin", 4000, []int{6, 9, 9, 4, 1, 1, 2, 7, 8, 3}},
	} {
		s, err := LoadCIFAR10Bin(dataPath(t, "cifar10", "bin", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != tc.n {
			t.Fatalf("%s: %d records, want %d", tc.file, s.Len(), tc.n)
		}
		checkRange(t, s)
		if !slices.Equal(s.Labels[:len(tc.first)], tc.first) {
			t.Errorf("%s: first labels %v, want %v", tc.file, s.Labels[:len(tc.first)], tc.first)
		}
		var counts [10]int
		for _, l := range s.Labels {
			counts[l]++
		}
		for c, k := range counts {
			if k < tc.n/20 {
				t.Errorf("%s: only %d images of %s", tc.file, k, s.Classes[c])
			}
		}
		if tc.file != "test_batch.bin" {
			continue
		}
		// Record 0 of the official test batch is a cat whose first red,
		// green and blue bytes are 0x9e, 0x70 and 0x31 (read from the file
		// with xxd: offsets 1, 1025 and 2049).
		if s.Labels[0] != 3 || s.Classes[3] != "cat" {
			t.Errorf("record 0: label %d, want 3 (cat)", s.Labels[0])
		}
		img := s.Image(0)
		for _, p := range []struct {
			i    int
			want byte
		}{{0, 0x9e}, {PlaneSize, 0x70}, {2 * PlaneSize, 0x31}} {
			if img[p.i] != float32(p.want)/255 {
				t.Errorf("record 0 value %d = %v, want %v", p.i, img[p.i]*255, p.want)
			}
		}
	}
}

func FuzzReadCIFAR10(f *testing.F) {
	f.Add(cifarRecords(3))
	f.Add(cifarRecords(3, 11))
	f.Add(cifarRecords(0, 1)[:CIFAR10RecordSize+5])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ReadCIFAR10(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error without ErrFormat: %v", err)
			}
			return
		}
		if len(in)%CIFAR10RecordSize != 0 || s.Len() != len(in)/CIFAR10RecordSize {
			t.Fatalf("%d bytes gave %d records", len(in), s.Len())
		}
		checkRange(t, s)
	})
}
