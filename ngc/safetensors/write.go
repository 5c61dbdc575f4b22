package safetensors

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Write encodes f to w in the safetensors format: every tensor as F32, in
// the order of f.Tensors, packed contiguously from offset 0; the metadata
// first in the header, keys sorted; the header padded with spaces to a
// multiple of 8 bytes. The SHA-256 digest of the content is stored in the
// metadata under [ChecksumKey], replacing any value f.Metadata has there.
//
// f is checked before anything is written: each tensor needs a unique,
// valid UTF-8 name other than "__metadata__", non-negative dimensions whose
// product is len(Data), and metadata must be valid UTF-8; otherwise Write
// returns an error wrapping [ErrInvalid]. f must not be modified while
// Write runs: its data is read twice, once to hash it and once to write it.
func Write(w io.Writer, f *File) error {
	h, bufSize, err := headerOf(f)
	if err != nil {
		return err
	}
	scratch := make([]byte, max(4, min(chunkSize, bufSize)))

	sum := sha256.New()
	hashHeader(sum, h)
	if err := writeData(sum, f.Tensors, scratch); err != nil {
		return fmt.Errorf("safetensors: hash: %w", err)
	}
	h.Metadata[ChecksumKey] = hex.EncodeToString(sum.Sum(nil))

	if _, err := w.Write(h.marshal()); err != nil {
		return fmt.Errorf("safetensors: write header: %w", err)
	}
	if err := writeData(w, f.Tensors, scratch); err != nil {
		return fmt.Errorf("safetensors: write data: %w", err)
	}
	return nil
}

// WriteFile writes f to the file at path, as [Write] does, atomically: the
// content goes to a temporary file in the same directory, which is synced
// and then renamed over path, so that path holds either its old content or
// the complete new file. The file is created with mode 0644. Errors are
// returned inside an *fs.PathError naming the file.
func WriteFile(path string, f *File) (err error) {
	if _, _, err := headerOf(f); err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, chunkSize)
	if err := Write(bw, f); err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename durable where the platform allows syncing a
	// directory; the file itself is already complete.
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// headerOf checks f and lays it out as an F32 header (without the checksum)
// and the length of its data buffer.
func headerOf(f *File) (*Header, int64, error) {
	if f == nil {
		return nil, 0, fmt.Errorf("%w: nil File", ErrInvalid)
	}
	h := &Header{
		Metadata: make(map[string]string, len(f.Metadata)+1),
		Tensors:  make([]TensorInfo, len(f.Tensors)),
	}
	for k, v := range f.Metadata {
		if k == ChecksumKey {
			continue
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, 0, fmt.Errorf("%w: metadata %q is not valid UTF-8", ErrInvalid, k)
		}
		h.Metadata[k] = v
	}
	names := make(map[string]bool, len(f.Tensors))
	var off int64
	for i, t := range f.Tensors {
		switch {
		case !utf8.ValidString(t.Name):
			return nil, 0, fmt.Errorf("%w: tensor name %q is not valid UTF-8", ErrInvalid, t.Name)
		case t.Name == metadataKey:
			return nil, 0, fmt.Errorf("%w: tensor name %q is reserved", ErrInvalid, t.Name)
		case names[t.Name]:
			return nil, 0, fmt.Errorf("%w: duplicate tensor name %q", ErrInvalid, t.Name)
		}
		names[t.Name] = true
		n, ok := byteSize(t.Shape, 4)
		if !ok {
			return nil, 0, fmt.Errorf("%w: tensor %q: shape %v has a negative dimension or overflows", ErrInvalid, t.Name, t.Shape)
		}
		if n != 4*int64(len(t.Data)) {
			return nil, 0, fmt.Errorf("%w: tensor %q: shape %v holds %d values, Data has %d", ErrInvalid, t.Name, t.Shape, n/4, len(t.Data))
		}
		if off > math.MaxInt64-n {
			return nil, 0, fmt.Errorf("%w: tensors too large", ErrInvalid)
		}
		h.Tensors[i] = TensorInfo{Name: t.Name, DType: F32, Shape: t.Shape, Begin: off, End: off + n}
		off += n
	}
	return h, off, nil
}

// marshal encodes the 8-byte length prefix and the JSON header: metadata
// first with sorted keys, then the tensors in order, padded with spaces to a
// multiple of 8 bytes.
func (h *Header) marshal() []byte {
	b := make([]byte, 8, 256)
	b = append(b, '{')
	if len(h.Metadata) > 0 {
		keys := make([]string, 0, len(h.Metadata))
		for k := range h.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = appendJSONString(b, metadataKey)
		b = append(b, ":{"...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, h.Metadata[k])
		}
		b = append(b, '}')
	}
	for i, t := range h.Tensors {
		if i > 0 || len(h.Metadata) > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t.Name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(t.DType))
		b = append(b, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, t.Begin, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, t.End, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for (len(b)-8)%8 != 0 {
		b = append(b, ' ')
	}
	binary.LittleEndian.PutUint64(b, uint64(len(b)-8))
	return b
}

// appendJSONString appends s, which must be valid UTF-8, as a JSON string
// literal: quotes, backslashes and control characters escaped, everything
// else verbatim.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// writeData writes the values of ts as contiguous little-endian F32 bytes,
// in pieces of len(scratch) bytes (a multiple of 4).
func writeData(w io.Writer, ts []Tensor, scratch []byte) error {
	n := 0
	for _, t := range ts {
		data := t.Data
		for len(data) > 0 {
			k := min(len(data), (len(scratch)-n)/4)
			for i, v := range data[:k] {
				binary.LittleEndian.PutUint32(scratch[n+4*i:], math.Float32bits(v))
			}
			n += 4 * k
			data = data[k:]
			if n == len(scratch) {
				if _, err := w.Write(scratch); err != nil {
					return err
				}
				n = 0
			}
		}
	}
	if n > 0 {
		if _, err := w.Write(scratch[:n]); err != nil {
			return err
		}
	}
	return nil
}
