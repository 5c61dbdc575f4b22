package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR10RecordSize is the size in bytes of one record of a CIFAR-10 binary
// batch: a label byte, then the 1024 red, 1024 green and 1024 blue bytes of a
// 32×32 image, each plane row-major.
const CIFAR10RecordSize = 1 + ImageSize

// CIFAR10Classes returns the names of the ten CIFAR-10 classes, indexed by
// label (the order of the official batches.meta.txt).
func CIFAR10Classes() []string {
	return []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
}

// ReadCIFAR10 reads CIFAR-10 binary records from r until EOF. Any number of
// records is accepted; a partial final record or a label above 9 is an
// ErrFormat error naming the record.
func ReadCIFAR10(r io.Reader) (*Set, error) {
	s := &Set{Name: "cifar10", Classes: CIFAR10Classes()}
	br := bufio.NewReaderSize(r, 1<<16)
	var rec [CIFAR10RecordSize]byte
	for i := 0; ; i++ {
		n, err := io.ReadFull(br, rec[:])
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("record %d: %w: truncated: %d of %d bytes", i, ErrFormat, n, CIFAR10RecordSize)
			}
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		s.Images = append(s.Images, make([]float32, ImageSize)...)
		s.Labels = append(s.Labels, 0)
		if err := decodeCIFAR10Record(s.Image(i), &s.Labels[i], rec[:]); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
}

// decodeCIFAR10Record decodes one record into img and label.
func decodeCIFAR10Record(img []float32, label *int, rec []byte) error {
	if rec[0] > 9 {
		return fmt.Errorf("%w: label %d not in 0..9", ErrFormat, rec[0])
	}
	*label = int(rec[0])
	for k, b := range rec[1:] {
		img[k] = float32(b) / 255
	}
	return nil
}

// LoadCIFAR10Bin loads and concatenates CIFAR-10 binary batch files, such as
// data_batch_1.bin … data_batch_5.bin or test_batch.bin of the official
// cifar-10-batches-bin archive. A file may hold any number of records, but its
// size must be a multiple of CIFAR10RecordSize; the size of every file is
// checked before anything is read, and the whole set is allocated once. Errors
// name the file and, for a bad label, the record.
func LoadCIFAR10Bin(paths ...string) (*Set, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("data: LoadCIFAR10Bin: no files: %w", ErrNoImages)
	}
	counts := make([]int, len(paths))
	total := 0
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		if fi.Size()%CIFAR10RecordSize != 0 {
			return nil, fmt.Errorf("data: %s: %w: size %d is not a multiple of the %d-byte record (%d whole records and %d bytes over)",
				p, ErrFormat, fi.Size(), CIFAR10RecordSize, fi.Size()/CIFAR10RecordSize, fi.Size()%CIFAR10RecordSize)
		}
		counts[i] = int(fi.Size() / CIFAR10RecordSize)
		total += counts[i]
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = strings.TrimSuffix(filepath.Base(p), ".bin")
	}
	s := &Set{
		Name:    "cifar10/" + strings.Join(names, "+"),
		Images:  make([]float32, total*ImageSize),
		Labels:  make([]int, total),
		Classes: CIFAR10Classes(),
	}
	at := 0
	for i, p := range paths {
		if err := readCIFAR10File(s, at, counts[i], p); err != nil {
			return nil, err
		}
		at += counts[i]
	}
	return s, nil
}

// readCIFAR10File decodes the n records of the file at path into images
// at, at+1, … of s.
func readCIFAR10File(s *Set, at, n int, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var rec [CIFAR10RecordSize]byte
	for i := range n {
		if k, err := io.ReadFull(br, rec[:]); err != nil {
			return fmt.Errorf("data: %s: record %d: %w: truncated: %d of %d bytes: %w", path, i, ErrFormat, k, CIFAR10RecordSize, noEOF(err))
		}
		if err := decodeCIFAR10Record(s.Image(at+i), &s.Labels[at+i], rec[:]); err != nil {
			return fmt.Errorf("data: %s: record %d: %w", path, i, err)
		}
	}
	if _, err := br.ReadByte(); err == nil {
		return fmt.Errorf("data: %s: %w: file grew while being read", path, ErrFormat)
	}
	return nil
}
