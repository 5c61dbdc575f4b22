// Package safetensors reads and writes tensors in the safetensors format, the
// file format of Conv-NGC checkpoints, so that weights written here open in
// other tools (the Python safetensors library, PyTorch, Hugging Face) and
// weights written by those tools can be read here.
//
// A [File] is string metadata plus an ordered list of named float32 tensors.
// [Write] and [WriteFile] encode one; [Read] and [ReadFile] decode one,
// checking everything the format allows to be checked; [ReadHeader] decodes
// only the header, to list a file's tensors without loading them.
//
// # Format
//
// A safetensors file is:
//
//	8 bytes   N, the length of the header, unsigned little-endian
//	N bytes   the header: a UTF-8 JSON object, possibly padded with spaces
//	the rest  the data buffer: the tensors' raw little-endian bytes
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets"};
// data_offsets is [begin, end), in bytes from the start of the data buffer,
// and the values are stored row-major (C order). The optional key
// "__metadata__" maps to an object of string values. For example:
//
//	{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}
//
// [Write] lays a file out as the reference implementation does:
// "__metadata__" first (keys sorted), the tensors packed contiguously from
// offset 0 in the order of their header entries, the header padded with
// spaces so that the buffer starts at a multiple of 8 bytes. The tensors keep
// the order of [File.Tensors] (the reference sorts them by dtype and name;
// readers accept any order), and every tensor is stored as F32. Tensor names
// and metadata must be valid UTF-8.
//
// # Reading
//
// [Read] refuses, with an error saying what is wrong:
//
//   - a header length larger than the input or than the limit set with
//     [WithMaxHeaderSize] (100 MB by default, as the reference), checked
//     before anything is allocated; a file larger than [WithMaxSize] (4 GiB
//     by default), checked as soon as the header announces its size;
//   - a header that is not valid UTF-8, does not start with '{', is not a
//     single JSON object (only whitespace may follow it), has duplicate keys
//     at any level, or has a non-string metadata value;
//   - a tensor entry without dtype, shape or data_offsets, an unknown dtype,
//     a negative or non-integer dimension, a shape whose size overflows, a
//     size (product of the shape times the element size) different from
//     end − begin, or offsets that are not exactly two integers with
//     begin ≤ end;
//   - tensors that do not tile the buffer: taken in order of their offsets,
//     the first must start at 0 and each must start where the previous one
//     ends (no gaps, no overlaps);
//   - a buffer shorter than the last end offset (a truncated file) or longer
//     than it (trailing bytes);
//   - a checksum that does not match (see below).
//
// Unknown fields inside a tensor entry are ignored, as the reference does.
// Tensors are returned in buffer order (for files written by [Write], the
// order they were written in).
//
// Errors wrap the sentinels [ErrCorrupt], [ErrTruncated], [ErrChecksum],
// [ErrDType] and [ErrTooLarge]; ErrTruncated and ErrChecksum also match
// ErrCorrupt. [Write] refuses an inconsistent [File] with [ErrInvalid].
//
// # Element types
//
// Every tensor is returned as float32, whatever its dtype in the file:
//
//   - F32 is copied bit for bit: NaN payloads, −0, infinities and subnormals
//     survive a round trip unchanged;
//   - F16, BF16, BOOL (0 or 1), U8, I8, U16 and I16 convert exactly;
//   - F64, U32, I32, U64 and I64 are rounded to the nearest float32
//     (integers are exact up to 2²⁴ in magnitude).
//
// Other dtypes (8-bit and smaller floats, complex numbers) are refused with
// [ErrDType]. [ReadHeader] reports the dtype each tensor has in the file.
//
// # Checksum
//
// The format has no checksum, so [Write] adds one: the lowercase hexadecimal
// SHA-256 digest stored in the metadata under [ChecksumKey]
// ("convngc.sha256"). [Read] verifies it when present, refuses a mismatch
// with [ErrChecksum], and removes the key from the returned metadata; a file
// without the key (written by another tool) is accepted after the structural
// checks alone. Other tools ignore the key.
//
// The digest covers the data buffer and everything the header says, so a
// renamed tensor or an edited metadata value is detected as well as a
// changed byte of data. It is the SHA-256 of the concatenation of:
//
//  1. the number of metadata entries other than ChecksumKey, then each of
//     them in ascending byte order of key: the key and the value;
//  2. the number of tensors, then each tensor in buffer order: its name, its
//     dtype, its number of dimensions, each dimension, begin and end;
//  3. the data buffer, as stored.
//
// Every number is written as 8 bytes, unsigned little-endian, and every
// string as its length in bytes (a number) followed by its UTF-8 bytes. The
// digest cannot protect its own key: a file whose key was altered reads as
// a file without a checksum.
//
// # Resources
//
// [Read] reserves memory in proportion to the data actually received, so a
// short input that announces a huge tensor costs little. [ReadFile] knows the size of the file and checks the
// announced sizes against it before reading any data. Decoded tensors need 4
// bytes per element, up to 4 times the size of a buffer of 1-byte elements.
// Nothing in the package holds global state; values of [File] are not
// safe for concurrent modification, but concurrent reads are.
package safetensors
