package data

import "errors"

// Sentinel errors returned by the loaders, wrapped in errors that name the
// file and the position ("data: <file>: record 7: malformed file: label 12
// not in 0..9"). Test for them with errors.Is.
var (
	// ErrFormat reports a file whose content does not follow its format:
	// a bad magic number or header, a truncated body, inconsistent
	// dimensions, or a label outside the data set's range.
	ErrFormat = errors.New("malformed file")

	// ErrTooLarge reports a declared size (image count, array dimensions,
	// element length, image width and height) above the loader's limit. It
	// is returned before anything of that size is allocated.
	ErrTooLarge = errors.New("declared size exceeds limit")

	// ErrUnsupported reports a well-formed file that uses a feature this
	// package does not read, such as a MATLAB v7.3 (HDF5) file or an IDX
	// element type other than unsigned byte.
	ErrUnsupported = errors.New("unsupported format feature")

	// ErrNoImages reports an image folder, or a split of a data set, that
	// holds no images.
	ErrNoImages = errors.New("no images")

	// ErrNotFound reports that a data directory, data file or the MNIST
	// module could not be located.
	ErrNotFound = errors.New("not found")

	// ErrOptions reports invalid Options passed to Load, such as an unknown
	// data set name or a negative image count.
	ErrOptions = errors.New("invalid options")
)
