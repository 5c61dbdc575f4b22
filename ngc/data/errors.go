package data

import "errors"

// Sentinel errors returned (wrapped, with the file and position) by the
// loaders. Test for them with errors.Is.
var (
	// ErrFormat reports a file whose content does not follow its format:
	// a bad magic number or header, a truncated body, inconsistent
	// dimensions, or a label outside the data set's range.
	ErrFormat = errors.New("data: malformed file")

	// ErrTooLarge reports a declared size (image count, array dimensions,
	// element length, image width and height) above the loader's limit. It
	// is returned before anything of that size is allocated.
	ErrTooLarge = errors.New("data: declared size exceeds limit")

	// ErrUnsupported reports a well-formed file that uses a feature this
	// package does not read, such as a MATLAB v7.3 (HDF5) file or an IDX
	// element type other than unsigned byte.
	ErrUnsupported = errors.New("data: unsupported format feature")

	// ErrNoImages reports an image folder, or a split of a data set, that
	// holds no images.
	ErrNoImages = errors.New("data: no images")

	// ErrNotFound reports that a data directory, data file or the MNIST
	// module could not be located.
	ErrNotFound = errors.New("data: not found")

	// ErrOptions reports invalid Options passed to Load, such as an unknown
	// data set name or a negative image count.
	ErrOptions = errors.New("data: invalid options")
)
