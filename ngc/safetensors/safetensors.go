package safetensors

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors. Every error returned by this package that concerns the
// content of a file or of a [File] wraps exactly one of them (ErrTruncated
// and ErrChecksum also wrap ErrCorrupt), so callers can test with errors.Is.
// Errors from the underlying reader, writer or file system are wrapped
// unchanged instead.
var (
	// ErrCorrupt reports a file that is not valid safetensors: a header that
	// is not a JSON object of the expected form, inconsistent shapes and
	// offsets, duplicate names, trailing bytes, and so on.
	ErrCorrupt = errors.New("safetensors: corrupt file")

	// ErrTruncated reports a file that ends before the header or the data
	// buffer it announces is complete. It wraps ErrCorrupt.
	ErrTruncated = fmt.Errorf("%w: truncated", ErrCorrupt)

	// ErrChecksum reports a file whose SHA-256 digest, stored under
	// [ChecksumKey], does not match its content, or whose stored digest is
	// malformed. It wraps ErrCorrupt.
	ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrCorrupt)

	// ErrNotSafetensors reports a file that is not safetensors at all (a
	// text file, for example). It wraps ErrCorrupt.
	ErrNotSafetensors = fmt.Errorf("%w: not a safetensors file", ErrCorrupt)

	// ErrDType reports a tensor whose dtype this package cannot decode.
	// Such a file may be valid safetensors (for example one holding 8-bit
	// floats); it is refused because its values cannot be returned as
	// float32.
	ErrDType = errors.New("safetensors: unsupported dtype")

	// ErrTooLarge reports a header or a file that exceeds a size limit (see
	// [WithMaxHeaderSize] and [WithMaxSize]). The limit is checked before
	// the memory is allocated.
	ErrTooLarge = errors.New("safetensors: too large")

	// ErrInvalid reports a [File] that cannot be written: a shape that does
	// not match the data, a negative dimension, a duplicate or reserved
	// tensor name, or a string that is not valid UTF-8.
	ErrInvalid = errors.New("safetensors: invalid tensor file")
)

// ChecksumKey is the __metadata__ key under which [Write] stores the
// lowercase hexadecimal SHA-256 digest of the file's content (see the
// package documentation for what the digest covers). [Read] verifies it when
// present and removes it from the returned [File.Metadata].
const ChecksumKey = "convngc.sha256"

// metadataKey is the reserved header key that holds the string-to-string
// metadata instead of a tensor.
const metadataKey = "__metadata__"

// Tensor is a named, dense, row-major array of float32 values.
//
// Shape lists the dimensions, outermost first; a nil or empty Shape is a
// scalar holding one value. len(Data) must equal the product of Shape.
type Tensor struct {
	// Name identifies the tensor; it is unique within a File.
	Name string
	// Shape is the size of each dimension, outermost first (row-major:
	// the last index varies fastest).
	Shape []int
	// Data holds the values in row-major order.
	Data []float32
}

// File is the content of a safetensors file: string metadata and an ordered
// list of float32 tensors.
type File struct {
	// Metadata is the header's "__metadata__" object. Keys and values
	// are arbitrary UTF-8 strings; ChecksumKey is reserved.
	Metadata map[string]string
	// Tensors is the list of tensors in the order of the data buffer.
	Tensors []Tensor
}

// CheckFinite returns an error naming the first tensor that holds a NaN
// or an infinity, and where, or nil when every value is finite.
func (f *File) CheckFinite() error {
	for _, t := range f.Tensors {
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("tensor %q holds %v at index %d", t.Name, v, i)
			}
		}
	}
	return nil
}

// Get returns the tensor with the given name and reports whether it was
// found. It scans f.Tensors in order, so it costs O(len(f.Tensors)).
func (f *File) Get(name string) (Tensor, bool) {
	if f == nil {
		return Tensor{}, false
	}
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Header is the decoded JSON header of a safetensors file, as returned by
// [ReadHeader]. It describes the tensors without holding their values.
type Header struct {
	// Metadata is the "__metadata__" object, including ChecksumKey when
	// the file has one. It is never nil.
	Metadata map[string]string
	// Tensors describes the tensors in buffer order (ascending
	// offsets), which need not be the order of the JSON object.
	Tensors []TensorInfo
}

// TensorInfo describes one tensor of a [Header].
type TensorInfo struct {
	// Name is the tensor's key in the header.
	Name string
	// DType is the element type stored in the file.
	DType DType
	// Shape is the size of each dimension, outermost first.
	Shape []int
	// Begin and End are the byte offsets of the tensor's data relative
	// to the start of the data buffer: the data is buffer[Begin:End].
	Begin, End int64
}

// Default limits applied by [Read], [ReadFile] and [ReadHeader].
const (
	// DefaultMaxHeaderSize is the largest JSON header accepted by default,
	// the same limit as the reference implementation (100 MB).
	DefaultMaxHeaderSize = 100_000_000
	// DefaultMaxSize is the largest file accepted by default (4 GiB).
	DefaultMaxSize = 4 << 30
)

// Option configures [Read], [ReadFile] and [ReadHeader].
type Option func(*options)

type options struct {
	maxHeader int64 // largest accepted header length; <= 0: no limit
	maxSize   int64 // largest accepted total file size; <= 0: no limit
}

func newOptions(opts []Option) options {
	o := options{maxHeader: DefaultMaxHeaderSize, maxSize: DefaultMaxSize}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithMaxHeaderSize limits the length of the JSON header to n bytes; a
// longer header is refused with [ErrTooLarge] before it is read. n <= 0
// removes the limit. The default is [DefaultMaxHeaderSize].
func WithMaxHeaderSize(n int64) Option {
	return func(o *options) { o.maxHeader = n }
}

// WithMaxSize limits the total size of the file (8-byte length, header and
// data buffer) to n bytes; a file that is, or announces itself as, larger is
// refused with [ErrTooLarge] before its data is read. n <= 0 removes the
// limit. The default is [DefaultMaxSize].
func WithMaxSize(n int64) Option {
	return func(o *options) { o.maxSize = n }
}
