package data

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DataDirEnv is the environment variable naming the data directory.
const DataDirEnv = "NGC_DATA_DIR"

// DataDir returns the directory holding the data sets: $NGC_DATA_DIR when
// set and not empty, otherwise ../shared/data next to the module root, found
// by walking up from the working directory to the first folder with a go.mod
// file. It returns an error wrapping ErrNotFound when neither applies. It does
// not check that an explicitly set directory exists; see DataDirExplicit.
func DataDir() (string, error) {
	if d := os.Getenv(DataDirEnv); d != "" {
		return d, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("data: data directory: %s is not set and %w", DataDirEnv, err)
	}
	d := filepath.Join(filepath.Dir(root), "shared", "data")
	if !isDir(d) {
		return "", fmt.Errorf("data: data directory: %s is not set and %s does not exist: %w", DataDirEnv, d, ErrNotFound)
	}
	return d, nil
}

// moduleRoot returns the first folder at or above the working directory
// that holds a go.mod file.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod at or above %s: %w", wd, ErrNotFound)
		}
		dir = parent
	}
}

// DataDirExplicit reports whether the data directory was set explicitly
// through $NGC_DATA_DIR. Tests use it to decide between failing (the data
// was promised, as in CI) and skipping (the default location is absent) when
// a data file is missing.
func DataDirExplicit() bool { return os.Getenv(DataDirEnv) != "" }

// Split selects a part of a data set.
type Split int

// The parts of a data set. Validation is held out of the training data (see
// Load).
const (
	Train Split = iota
	Validation
	Test
)

// String returns "train", "validation" or "test".
func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Validation:
		return "validation"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// ParseSplit parses "train", "validation" (also "valid", "val") or "test",
// in any letter case.
func ParseSplit(name string) (Split, error) {
	switch strings.ToLower(name) {
	case "train":
		return Train, nil
	case "validation", "valid", "val":
		return Validation, nil
	case "test":
		return Test, nil
	}
	return 0, fmt.Errorf("data: split %q: %w: want train, validation or test", name, ErrOptions)
}

// Data set names understood by Load.
const (
	ColorMNISTName = "color-mnist"
	CIFAR10Name    = "cifar10"
	SVHNName       = "svhn"
	CINIC10Name    = "cinic10"
	FolderName     = "folder"
)

// DatasetNames returns the data set names Load understands.
func DatasetNames() []string {
	return []string{ColorMNISTName, CIFAR10Name, SVHNName, CINIC10Name, FolderName}
}

// HoldOut is the number of training images held out for validation, as in
// the paper (CIFAR-10 and SVHN: 5,000).
const HoldOut = 5000

// ValidationSize returns the default number of images held out of a
// training pool of n images: HoldOut, or n/10 when the pool has fewer than
// 2·HoldOut images (so that the small files of tests and demos keep 90% for
// training).
func ValidationSize(n int) int {
	if n < 2*HoldOut {
		return n / 10
	}
	return HoldOut
}

// Options selects what Load loads.
type Options struct {
	// Dataset is one of DatasetNames: "color-mnist", "cifar10", "svhn",
	// "cinic10" or "folder".
	Dataset string
	// Path overrides the default location (see Load). Required for "folder".
	Path string
	// Split is the part to load.
	Split Split
	// MaxImages, if positive, caps the number of images: after the split, a
	// random subset of MaxImages images (chosen from Seed) is kept in its
	// original order. 0 keeps all.
	MaxImages int
	// Seed fixes every random choice: the validation hold-out, the
	// MaxImages subset and the Color-MNIST colours.
	Seed int64
	// Validation, if positive, is the number of training images held out for
	// validation; 0 means ValidationSize of the training pool. It is not
	// used where the data has its own validation folder.
	Validation int
}

// selection returns, in ascending order, the indices of the images of a set
// of n images (named name) that Load keeps for opts: for a pool, the
// training rest or the validation hold-out (holdOutMask from Seed); then, if
// MaxImages is below their number, a random subset of MaxImages of them
// (another stream of Seed). The choice depends only on n and opts.
func selection(n int, name string, opts Options, isPool bool) ([]int, error) {
	idx := make([]int, 0, n)
	if isPool {
		k := opts.Validation
		if k == 0 {
			k = ValidationSize(n)
		}
		if k >= n && opts.Split == Train {
			return nil, fmt.Errorf("data: %s: holding out %d of %d images leaves none for training: %w", name, k, n, ErrNoImages)
		}
		wantHeld := opts.Split == Validation
		for i, held := range holdOutMask(n, k, opts.Seed, streamHoldOut) {
			if held == wantHeld {
				idx = append(idx, i)
			}
		}
	} else {
		for i := range n {
			idx = append(idx, i)
		}
	}
	if opts.MaxImages > 0 && opts.MaxImages < len(idx) {
		j := 0
		for i, keep := range holdOutMask(len(idx), opts.MaxImages, opts.Seed, streamCap) {
			if keep {
				idx[j] = idx[i]
				j++
			}
		}
		idx = idx[:j]
	}
	return idx, nil
}

// Load loads one split of a data set, as a Set named "<dataset>/<split>".
//
// Where a data set has no separate validation data, Validation is a random
// hold-out of the training pool (Options.Validation images, by default
// ValidationSize: 5,000 for the full sets) chosen from Seed, and Train is
// the rest: the two never overlap, and the same seed gives the same split.
// The data sets and their Path:
//
//   - "color-mnist": Path is a folder of MNIST IDX files, by default the
//     GoMNIST module's (MNISTDir). Train and Validation come from the 60,000
//     training digits, Test from the 10,000 test digits (see LoadColorMNIST).
//   - "cifar10": by default $NGC_DATA_DIR/cifar10/jpeg, the complete set as
//     a third party's lossy JPEG re-encoding (scores on it are not the
//     paper's CIFAR-10 scores). A folder holding data_batch_*.bin or
//     test_batch.bin (the official binary archive) is read with
//     LoadCIFAR10Bin: the data batches are the training pool, test_batch.bin
//     the test set. Otherwise the folder must hold train/ and test/ image
//     trees (read with LoadImageFolder). A single .bin file is a pool (see
//     below).
//   - "svhn": by default $NGC_DATA_DIR/svhn; train_32x32.mat is the training
//     pool, test_32x32.mat the test set. A single .mat file is a pool.
//   - "cinic10": by default $NGC_DATA_DIR/cinic10, with train/, valid/ and
//     test/ image trees; Validation reads valid/.
//   - "folder": Path is required. If it holds train/ and test/ folders (and
//     optionally valid/), it is split like "cinic10"; otherwise it is a pool.
//
// A pool is a single file or image tree given as Path: Train and Validation
// split it by the hold-out, and Test returns all of it (point Path at a test
// file or folder to evaluate on it).
func Load(ctx context.Context, opts Options) (*Set, error) {
	if opts.MaxImages < 0 {
		return nil, fmt.Errorf("data: MaxImages %d: %w: must not be negative", opts.MaxImages, ErrOptions)
	}
	if opts.Validation < 0 {
		return nil, fmt.Errorf("data: Validation %d: %w: must not be negative", opts.Validation, ErrOptions)
	}
	if opts.Split < Train || opts.Split > Test {
		return nil, fmt.Errorf("data: %v: %w", opts.Split, ErrOptions)
	}
	var (
		s        *Set
		isPool   bool // s is a training pool still to be split
		selected bool // the split and the MaxImages cap are already applied
		err      error
	)
	switch opts.Dataset {
	case ColorMNISTName:
		dir := opts.Path
		if dir == "" {
			if dir, err = MNISTDir(ctx); err != nil {
				return nil, err
			}
		}
		// Only the selected digits are resized and coloured: a
		// --max-images run never holds the 60,000-image set as float32.
		s, err = loadColorMNIST(dir, opts.Split != Test, opts.Seed, func(n int, name string) ([]int, error) {
			return selection(n, name, opts, opts.Split != Test)
		})
		selected = true
	case CIFAR10Name:
		s, isPool, err = loadCIFAR10(ctx, opts)
	case SVHNName:
		s, isPool, err = loadSVHN(opts)
	case CINIC10Name:
		var root string
		if root, err = defaultPath(opts.Path, "cinic10"); err == nil {
			s, isPool, err = loadTree(ctx, root, opts.Split)
		}
	case FolderName:
		if opts.Path == "" {
			return nil, fmt.Errorf("data: dataset %q: %w: Path is required", opts.Dataset, ErrOptions)
		}
		if hasSplitDirs(opts.Path) {
			s, isPool, err = loadTree(ctx, opts.Path, opts.Split)
		} else {
			s, err = LoadImageFolder(ctx, opts.Path)
			isPool = opts.Split != Test
		}
	default:
		return nil, fmt.Errorf("data: dataset %q: %w: want one of %s", opts.Dataset, ErrOptions, strings.Join(DatasetNames(), ", "))
	}
	if err != nil {
		return nil, err
	}
	if !selected {
		idx, err := selection(s.Len(), s.Name, opts, isPool)
		if err != nil {
			return nil, err
		}
		s = s.keepInOrder(idx)
	}
	s.Name = opts.Dataset + "/" + opts.Split.String()
	if s.Len() == 0 {
		return nil, fmt.Errorf("data: %s: %w", s.Name, ErrNoImages)
	}
	return s, nil
}

// defaultPath returns path, or DataDir()/sub when path is empty.
func defaultPath(path string, sub ...string) (string, error) {
	if path != "" {
		return path, nil
	}
	dir, err := DataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{dir}, sub...)...), nil
}

// loadCIFAR10 implements Load for "cifar10".
func loadCIFAR10(ctx context.Context, opts Options) (*Set, bool, error) {
	path, err := defaultPath(opts.Path, "cifar10", "jpeg")
	if err != nil {
		return nil, false, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("data: cifar10: %w", err)
	}
	if !fi.IsDir() {
		s, err := LoadCIFAR10Bin(path)
		return s, opts.Split != Test, err
	}
	batches, err := filepath.Glob(filepath.Join(path, "data_batch_*.bin"))
	if err != nil {
		return nil, false, fmt.Errorf("data: cifar10: %w", err)
	}
	// Order data_batch_2 before data_batch_10.
	slices.SortFunc(batches, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	testBatch := filepath.Join(path, "test_batch.bin")
	_, testErr := os.Stat(testBatch)
	if len(batches) > 0 || testErr == nil {
		if opts.Split == Test {
			if testErr != nil {
				return nil, false, fmt.Errorf("data: cifar10: %s: %w", testBatch, ErrNotFound)
			}
			s, err := LoadCIFAR10Bin(testBatch)
			return s, false, err
		}
		if len(batches) == 0 {
			return nil, false, fmt.Errorf("data: cifar10: %s: no data_batch_*.bin: %w", path, ErrNotFound)
		}
		s, err := LoadCIFAR10Bin(batches...)
		return s, true, err
	}
	if !hasSplitDirs(path) {
		return nil, false, fmt.Errorf("data: cifar10: %s: neither binary batches nor train/ and test/ folders: %w", path, ErrNotFound)
	}
	return loadTree(ctx, path, opts.Split)
}

// loadSVHN implements Load for "svhn".
func loadSVHN(opts Options) (*Set, bool, error) {
	path, err := defaultPath(opts.Path, "svhn")
	if err != nil {
		return nil, false, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("data: svhn: %w", err)
	}
	if !fi.IsDir() {
		s, err := LoadSVHNMat(path)
		return s, opts.Split != Test, err
	}
	name := "train_32x32.mat"
	if opts.Split == Test {
		name = "test_32x32.mat"
	}
	s, err := LoadSVHNMat(filepath.Join(path, name))
	return s, opts.Split != Test, err
}

// validDir returns root's validation folder (valid/, validation/ or val/),
// if it has one.
func validDir(root string) (string, bool) {
	for _, name := range []string{"valid", "validation", "val"} {
		if dir := filepath.Join(root, name); isDir(dir) {
			return dir, true
		}
	}
	return "", false
}

// hasSplitDirs reports whether root holds train/ and test/ folders.
func hasSplitDirs(root string) bool {
	return isDir(filepath.Join(root, "train")) && isDir(filepath.Join(root, "test"))
}

// isDir reports whether path is a directory.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// loadTree loads a split of a root/{train,valid,test} image tree. Without a
// validation folder, Train and Validation come from train/ (a pool).
func loadTree(ctx context.Context, root string, split Split) (*Set, bool, error) {
	switch split {
	case Test:
		s, err := LoadImageFolder(ctx, filepath.Join(root, "test"))
		return s, false, err
	case Validation:
		if dir, ok := validDir(root); ok {
			s, err := LoadImageFolder(ctx, dir)
			return s, false, err
		}
	}
	_, hasValid := validDir(root)
	s, err := LoadImageFolder(ctx, filepath.Join(root, "train"))
	return s, !hasValid, err
}
