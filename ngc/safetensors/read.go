package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
)

// chunkSize is the unit in which data is read, hashed and written; it is a
// multiple of every element size.
const chunkSize = 64 << 10

// growStep bounds the memory allocated ahead of the bytes actually received
// when the size of the input is not known, so that a header announcing a
// huge buffer costs nothing until the buffer arrives.
const growStep = 1 << 20

// Read decodes a safetensors file from r, reading r to its end. The header
// and buffer are checked as described in the package documentation, and the
// checksum is verified when the file has one; the checksum key is not
// returned in the File's Metadata. Tensors of every [DType] are returned as
// float32, in buffer order.
//
// Memory is reserved in proportion to the data actually received, so a
// header that announces more data than r holds fails with [ErrTruncated]
// without reserving the announced amount. When r is a *bytes.Reader, *bytes.Buffer or
// *strings.Reader, its length is known, and sizes are checked against it
// before any data is read, as [ReadFile] does.
func Read(r io.Reader, opts ...Option) (*File, error) {
	size := int64(-1)
	switch r := r.(type) {
	case *bytes.Reader:
		size = int64(r.Len())
	case *bytes.Buffer:
		size = int64(r.Len())
	case *strings.Reader:
		size = int64(r.Len())
	}
	return decode(r, size, newOptions(opts))
}

// ReadFile decodes the safetensors file at path, as [Read] does. Because the
// size of the file is known, a header that announces more (or less) data
// than the file holds is refused before any data is read. Errors about the
// content are returned inside an *fs.PathError naming the file.
func ReadFile(path string, opts ...Option) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	size := int64(-1)
	if st, err := fh.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	f, err := decode(fh, size, newOptions(opts))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return f, nil
}

// ReadHeader reads the 8-byte length and the JSON header from r, and no
// further. It checks the header on its own (well-formed JSON, known dtypes,
// shapes consistent with offsets, tensors tiling the buffer without gaps or
// overlaps) but cannot check the data buffer or the checksum. The returned
// Metadata includes [ChecksumKey] when the file has one. [WithMaxSize] has
// no effect on ReadHeader.
func ReadHeader(r io.Reader, opts ...Option) (*Header, error) {
	o := newOptions(opts)
	o.maxSize = 0
	h, _, err := readHeader(r, -1, o)
	return h, err
}

// decode reads a whole file from r. size is the length of the input when
// known, or -1.
func decode(r io.Reader, size int64, o options) (*File, error) {
	if o.maxSize > 0 && size > o.maxSize {
		return nil, fmt.Errorf("%w: file of %d bytes exceeds the limit of %d bytes", ErrTooLarge, size, o.maxSize)
	}
	h, bufSize, err := readHeader(r, size, o)
	if err != nil {
		return nil, err
	}
	var sum hash.Hash
	var want []byte
	if s, ok := h.Metadata[ChecksumKey]; ok {
		if want, err = parseChecksum(s); err != nil {
			return nil, err
		}
		sum = sha256.New()
		hashHeader(sum, h)
	}
	known := size >= 0
	scratch := make([]byte, min(chunkSize, bufSize))
	f := &File{Metadata: h.Metadata, Tensors: make([]Tensor, len(h.Tensors))}
	for i, t := range h.Tensors {
		data, err := readTensor(r, t, known, scratch, sum)
		if err != nil {
			return nil, err
		}
		f.Tensors[i] = Tensor{Name: t.Name, Shape: t.Shape, Data: data}
	}
	var one [1]byte
	if n, err := io.ReadFull(r, one[:]); n > 0 {
		return nil, fmt.Errorf("%w: more data after the buffer of %d bytes", ErrCorrupt, bufSize)
	} else if err != io.EOF {
		return nil, fmt.Errorf("safetensors: read: %w", err)
	}
	if sum != nil {
		if got := sum.Sum(nil); !bytes.Equal(got, want) {
			return nil, fmt.Errorf("%w: content hashes to %x, %s says %x", ErrChecksum, got, ChecksumKey, want)
		}
		delete(f.Metadata, ChecksumKey)
	}
	return f, nil
}

// readHeader reads and checks the length prefix and the header, and returns
// the header and the length of the data buffer it describes.
func readHeader(r io.Reader, size int64, o options) (*Header, int64, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, 0, readError(err, "the 8-byte header length")
	}
	n64 := binary.LittleEndian.Uint64(pre[:])
	if text(pre[:]) && (n64 > uint64(o.maxHeader) || (size >= 0 && n64 > uint64(size-8))) {
		return nil, 0, fmt.Errorf("%w: it begins with text (%q), where a safetensors file has the length of its header", ErrNotSafetensors, string(pre[:]))
	}
	switch {
	case o.maxHeader > 0 && n64 > uint64(o.maxHeader):
		return nil, 0, fmt.Errorf("%w: header of %d bytes exceeds the limit of %d bytes", ErrTooLarge, n64, o.maxHeader)
	case size >= 0 && n64 > uint64(size-8):
		return nil, 0, fmt.Errorf("%w: header of %d bytes is longer than the %d bytes that follow it", ErrTruncated, n64, size-8)
	case o.maxSize > 0 && n64 > uint64(o.maxSize-8):
		return nil, 0, fmt.Errorf("%w: header of %d bytes exceeds the file size limit of %d bytes", ErrTooLarge, n64, o.maxSize)
	case n64 > math.MaxInt32:
		// Only reachable without limits; a JSON header this long is
		// not something this package reads.
		return nil, 0, fmt.Errorf("%w: header of %d bytes", ErrTooLarge, n64)
	}
	n := int64(n64)
	hdr, err := readBytes(r, n, size >= 0)
	if err != nil {
		return nil, 0, readError(err, "the header")
	}
	h, bufSize, err := parseHeader(hdr)
	if err != nil {
		return nil, 0, err
	}
	if bufSize > math.MaxInt64-8-n {
		return nil, 0, fmt.Errorf("%w: buffer of %d bytes", ErrTooLarge, bufSize)
	}
	total := 8 + n + bufSize
	if o.maxSize > 0 && total > o.maxSize {
		return nil, 0, fmt.Errorf("%w: header announces a file of %d bytes, over the limit of %d bytes", ErrTooLarge, total, o.maxSize)
	}
	switch {
	case size >= 0 && total > size:
		return nil, 0, fmt.Errorf("%w: header announces a buffer of %d bytes, the file holds %d after the header", ErrTruncated, bufSize, size-8-n)
	case size >= 0 && total < size:
		return nil, 0, fmt.Errorf("%w: the buffer of %d bytes is followed by %d more", ErrCorrupt, bufSize, size-total)
	}
	return h, bufSize, nil
}

// readTensor reads the data of t from r and decodes it to float32, adding
// the raw bytes to sum if it is not nil. If known is false, memory is
// reserved at most growStep ahead of the data received.
func readTensor(r io.Reader, t TensorInfo, known bool, scratch []byte, sum hash.Hash) ([]float32, error) {
	size := int64(t.DType.Size())
	remaining := t.End - t.Begin
	elems := remaining / size
	c := elems
	if !known {
		c = min(elems, growStep/4)
	}
	out := make([]float32, 0, c)
	for remaining > 0 {
		chunk := scratch[:min(remaining, int64(len(scratch)))]
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, readError(err, fmt.Sprintf("the data of tensor %q", t.Name))
		}
		if sum != nil {
			sum.Write(chunk)
		}
		if k := int64(len(chunk)) / size; int64(cap(out)-len(out)) < k {
			// Double, but never past the tensor's size.
			grow := min(max(int64(len(out)), k), elems-int64(len(out)))
			out = slices.Grow(out, int(grow))
		}
		out = appendFloat32s(out, chunk, t.DType)
		remaining -= int64(len(chunk))
	}
	return out, nil
}

// readBytes reads exactly n bytes from r. If known is false, memory is
// reserved at most growStep ahead of the bytes received.
func readBytes(r io.Reader, n int64, known bool) ([]byte, error) {
	c := n
	if !known {
		c = min(n, growStep)
	}
	buf := make([]byte, 0, c)
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(len(buf)), n-int64(len(buf)))))
		}
		end := min(int64(cap(buf)), n)
		k, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+k]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// readError turns an end of input into ErrTruncated and wraps anything
// else as a read error.
func readError(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: input ends inside %s", ErrTruncated, what)
	}
	return fmt.Errorf("safetensors: reading %s: %w", what, err)
}

// text reports whether b is printable ASCII or white space: the start of a
// text file rather than a little-endian header length.
func text(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
