package data

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// MaxIDXBytes is the largest IDX payload (product of the dimensions) that
// LoadMNIST accepts. The MNIST training images take 47 MB.
const MaxIDXBytes = 1 << 30

// idxUnsignedByte is the IDX element-type code for unsigned bytes.
const idxUnsignedByte = 0x08

// IDX is an unsigned-byte array read from an IDX file (the format of the
// MNIST distribution): Dims lists the dimensions, slowest-varying first, and
// Data holds the elements in row-major order.
type IDX struct {
	Dims []int
	Data []byte
}

// ReadIDX reads one IDX array from r. A gzip-compressed stream (detected by
// its magic bytes) is decompressed transparently. The header is checked: two
// zero bytes, the element type (only unsigned byte, 0x08, is supported), a
// non-zero number of dimensions, and the big-endian dimensions, whose product
// must not exceed limit. The body must hold exactly that many bytes: a short
// body or trailing bytes are an ErrFormat error.
func ReadIDX(r io.Reader, limit int64) (*IDX, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w: %w", ErrFormat, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, fmt.Errorf("IDX magic: %w: %w", ErrFormat, noEOF(err))
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("IDX magic % x: %w: first two bytes must be zero", head, ErrFormat)
	}
	if head[2] != idxUnsignedByte {
		return nil, fmt.Errorf("IDX element type 0x%02x: %w: only unsigned byte (0x08) is read", head[2], ErrUnsupported)
	}
	nd := int(head[3])
	if nd == 0 {
		return nil, fmt.Errorf("IDX header: %w: zero dimensions", ErrFormat)
	}
	dimBytes := make([]byte, 4*nd)
	if _, err := io.ReadFull(br, dimBytes); err != nil {
		return nil, fmt.Errorf("IDX dimensions: %w: %w", ErrFormat, noEOF(err))
	}
	dims := make([]int, nd)
	total := int64(1)
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(dimBytes[4*i:]))
		dims[i] = int(d)
		if d == 0 {
			total = 0
			continue
		}
		if total > limit/d {
			return nil, fmt.Errorf("IDX dimensions %v: %w (%d bytes)", dimsPrefix(dimBytes, i), ErrTooLarge, limit)
		}
		total *= d
	}
	if total > limit {
		return nil, fmt.Errorf("IDX dimensions %v: %w (%d bytes)", dims, ErrTooLarge, limit)
	}
	body, err := readExactly(br, total)
	if err != nil {
		return nil, fmt.Errorf("IDX body of %v: %w", dims, err)
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, fmt.Errorf("IDX body of %v: %w: trailing bytes after %d elements", dims, ErrFormat, total)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("IDX body of %v: %w", dims, wrapCorrupt(err))
	}
	return &IDX{Dims: dims, Data: body}, nil
}

// dimsPrefix decodes the first i+1 big-endian dimensions in b, for messages.
func dimsPrefix(b []byte, i int) []uint32 {
	out := make([]uint32, i+1)
	for k := range out {
		out[k] = binary.BigEndian.Uint32(b[4*k:])
	}
	return out
}

// readExactly reads exactly n bytes from r. Beyond the first 64 MiB, memory
// grows with the bytes actually read, so a short stream that declares a large
// size cannot make it allocate that size.
func readExactly(r io.Reader, n int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(n, 1<<26)))
	got, err := io.CopyN(&buf, r, n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: truncated: %d of %d bytes: %w", ErrFormat, got, n, io.ErrUnexpectedEOF)
		}
		return nil, wrapCorrupt(err)
	}
	b := buf.Bytes()
	return b[:len(b):len(b)], nil
}

// isCorrupt reports whether err comes from a corrupt compressed stream.
func isCorrupt(err error) bool {
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) ||
		errors.Is(err, zlib.ErrChecksum) || errors.Is(err, zlib.ErrHeader) ||
		errors.Is(err, zlib.ErrDictionary) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, new(flate.CorruptInputError))
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: a header cut short is a
// truncated file, not a clean end.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// MNIST image geometry.
const (
	MNISTHeight = 28
	MNISTWidth  = 28
)

// LoadMNIST reads the MNIST training set (train true: train-images-idx3-ubyte
// and train-labels-idx1-ubyte, 60,000 digits) or test set (t10k-*, 10,000
// digits) from dir. Each file may be gzip-compressed with a .gz suffix (the
// form of the original distribution and of the GoMNIST module) or plain.
//
// images[i] is the 28×28 digit i, row-major, 0 = background; all images share
// one backing array. labels[i] is its digit 0–9. The files must agree on the
// count, the images must be 28×28 and every label must be a digit; errors
// name the file.
func LoadMNIST(dir string, train bool) (images [][]uint8, labels []int, err error) {
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	imgPath, err := findVariant(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, nil, err
	}
	lblPath, err := findVariant(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, nil, err
	}
	img, err := readIDXFile(imgPath)
	if err != nil {
		return nil, nil, err
	}
	lbl, err := readIDXFile(lblPath)
	if err != nil {
		return nil, nil, err
	}
	if len(img.Dims) != 3 || img.Dims[1] != MNISTHeight || img.Dims[2] != MNISTWidth {
		return nil, nil, fmt.Errorf("data: %s: %w: image dimensions %v, want [N 28 28]", imgPath, ErrFormat, img.Dims)
	}
	if len(lbl.Dims) != 1 {
		return nil, nil, fmt.Errorf("data: %s: %w: label dimensions %v, want [N]", lblPath, ErrFormat, lbl.Dims)
	}
	n := img.Dims[0]
	if lbl.Dims[0] != n {
		return nil, nil, fmt.Errorf("data: %s: %w: %d labels for %d images in %s", lblPath, ErrFormat, lbl.Dims[0], n, imgPath)
	}
	labels = make([]int, n)
	for i, b := range lbl.Data {
		if b > 9 {
			return nil, nil, fmt.Errorf("data: %s: record %d: %w: label %d is not a digit", lblPath, i, ErrFormat, b)
		}
		labels[i] = int(b)
	}
	const size = MNISTHeight * MNISTWidth
	images = make([][]uint8, n)
	for i := range images {
		images[i] = img.Data[i*size : (i+1)*size : (i+1)*size]
	}
	return images, labels, nil
}

// findVariant returns dir/base.gz or dir/base, whichever exists (the .gz
// first).
func findVariant(dir, base string) (string, error) {
	for _, name := range []string{base + ".gz", base} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("data: %s{.gz,}: %w", filepath.Join(dir, base), ErrNotFound)
}

// readIDXFile reads an IDX file, naming it in errors.
func readIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	a, err := ReadIDX(f, MaxIDXBytes)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return a, nil
}
