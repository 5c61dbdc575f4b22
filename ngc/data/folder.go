package data

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MaxImagePixels is the largest width×height of an image that
// LoadImageFolder decodes; the size is read from the header and checked
// before the pixels are decoded.
const MaxImagePixels = 1 << 26

// imageFile is one image of a folder tree.
type imageFile struct {
	path  string // as found by the walk
	rel   string // relative to the root, slash-separated
	class string // first path element of rel
}

// LoadImageFolder loads every PNG and JPEG image (extensions .png, .jpg and
// .jpeg in any letter case) below root. The class of an image is the first
// folder under root that contains it, at any depth (root/<class>/…/img.png);
// labels index the sorted class names, which become Classes. Images come in a
// fixed order: by class, then by their path under root. This reads the
// CINIC-10 layout (point root at its train, valid or test folder) and the
// CIFAR-10 JPEG copy's train and test folders.
//
// Images are decoded in parallel on GOMAXPROCS goroutines and converted to
// RGB in [0, 1]: greyscale is repeated in the three planes, palettes are
// looked up, transparency is composited over black. A 32×32 image is kept as
// it is; a larger one whose width and height are multiples of 32 is
// block-averaged down; any other size is resampled bilinearly (see the
// package documentation). Hidden files and folders (names starting with '.')
// and files with other extensions are ignored; symbolic links are followed.
// An image directly in root, a file that does not decode, or an empty tree
// is an error naming the problem: no image is silently skipped. ctx cancels
// the load.
func LoadImageFolder(ctx context.Context, root string) (*Set, error) {
	files, err := listImages(root)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]struct{})
	for _, f := range files {
		seen[f.class] = struct{}{}
	}
	classes := sortedClasses(seen)
	s := &Set{
		Name:    "folder/" + filepath.Base(filepath.Clean(root)),
		Images:  make([]float32, len(files)*ImageSize),
		Labels:  make([]int, len(files)),
		Classes: classes,
	}
	for i, f := range files {
		s.Labels[i], _ = slices.BinarySearch(classes, f.class)
	}
	if err := decodeAll(ctx, s, files); err != nil {
		return nil, err
	}
	return s, nil
}

// listImages walks root and returns its image files, sorted by class and
// path.
func listImages(root string) ([]imageFile, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("data: image folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("data: image folder %s: not a directory", root)
	}
	var files []imageFile
	if err := walkImages(root, "", make(map[string]bool), &files); err != nil {
		return nil, fmt.Errorf("data: image folder %s: %w", root, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("data: image folder %s: %w (no .png, .jpg or .jpeg files)", root, ErrNoImages)
	}
	slices.SortFunc(files, func(a, b imageFile) int {
		if c := strings.Compare(a.class, b.class); c != 0 {
			return c
		}
		return strings.Compare(a.rel, b.rel)
	})
	return files, nil
}

// walkImages appends the image files of root/rel and its sub-folders to
// files. Symbolic links are followed; each real folder is read once, which
// also breaks link cycles.
func walkImages(root, rel string, seen map[string]bool, files *[]imageFile) error {
	dir := filepath.Join(root, filepath.FromSlash(rel))
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if seen[real] {
		return nil
	}
	seen[real] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		sub := name
		if rel != "" {
			sub = rel + "/" + name
		}
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			// A dangling link counts as a file: if it has an image name,
			// reading it fails and names it.
			fi, err := os.Stat(filepath.Join(dir, name))
			isDir = err == nil && fi.IsDir()
		}
		switch {
		case isDir:
			if err := walkImages(root, sub, seen, files); err != nil {
				return err
			}
		case isImageName(name):
			class, _, ok := strings.Cut(sub, "/")
			if !ok {
				return fmt.Errorf("%s: %w: image is not inside a class folder", filepath.Join(dir, name), ErrFormat)
			}
			*files = append(*files, imageFile{path: filepath.Join(dir, name), rel: sub, class: class})
		}
	}
	return nil
}

// isImageName reports whether a file name has a PNG or JPEG extension.
func isImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// decodeAll decodes files[i] into image i of s on GOMAXPROCS workers. On
// failure it returns the error of the lowest-numbered failing file among
// those tried, so a single bad file is always the one reported.
func decodeAll(ctx context.Context, s *Set, files []imageFile) error {
	work, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		errIndex = len(files)
		errFirst error
		wg       sync.WaitGroup
	)
	workers := max(1, min(runtime.GOMAXPROCS(0), len(files)))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []float32
			for work.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				var err error
				scratch, err = decodeFile(s.Image(i), files[i].path, scratch)
				if err != nil {
					mu.Lock()
					if i < errIndex {
						errIndex, errFirst = i, err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if errFirst != nil {
		return errFirst
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("data: loading images: %w", err)
	}
	return nil
}

// decodeFile reads and decodes one image file into dst, naming the file in
// errors. scratch is reused between calls.
func decodeFile(dst []float32, path string, scratch []float32) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return scratch, fmt.Errorf("data: %w", err)
	}
	scratch, err = decodeImage(dst, b, MaxImagePixels, scratch)
	if err != nil {
		return scratch, fmt.Errorf("data: %s: %w", path, err)
	}
	return scratch, nil
}

// decodeImage decodes a PNG or JPEG image (told apart by their signatures)
// of at most maxPixels pixels into dst, ImageSize floats, resizing it to
// 32×32. The size is read from the header before the pixels are decoded.
// scratch is grown and returned for reuse.
func decodeImage(dst []float32, b []byte, maxPixels int, scratch []float32) ([]float32, error) {
	format, w, h, err := imageSize(b)
	if err != nil {
		return scratch, err
	}
	if w <= 0 || h <= 0 {
		return scratch, fmt.Errorf("%w: %s size %d×%d", ErrFormat, format, w, h)
	}
	if int64(w)*int64(h) > int64(maxPixels) {
		return scratch, fmt.Errorf("%s size %d×%d: %w (%d pixels)", format, w, h, ErrTooLarge, maxPixels)
	}
	var img image.Image
	if format == "PNG" {
		img, err = png.Decode(bytes.NewReader(b))
	} else {
		img, err = jpeg.Decode(bytes.NewReader(b))
	}
	if err != nil {
		return scratch, fmt.Errorf("%w: %s: %w", ErrFormat, format, err)
	}
	if bounds := img.Bounds(); bounds.Dx() != w || bounds.Dy() != h {
		return scratch, fmt.Errorf("%w: %s decodes to %d×%d, header says %d×%d", ErrFormat, format, bounds.Dx(), bounds.Dy(), w, h)
	}
	if w == Width && h == Height {
		toPlanes(dst, img)
		return scratch, nil
	}
	n := Channels * w * h
	if cap(scratch) < n {
		scratch = make([]float32, n)
	}
	scratch = scratch[:n]
	toPlanes(scratch, img)
	for ch := range Channels {
		resizePlane(dst[ch*PlaneSize:(ch+1)*PlaneSize], scratch[ch*w*h:(ch+1)*w*h], h, w)
	}
	return scratch, nil
}

// imageSize returns the format ("PNG" or "JPEG") and the width and height
// declared by an image's header, without decoding it: for PNG the IHDR
// chunk, which must come first; for JPEG the first start-of-frame marker.
func imageSize(b []byte) (format string, w, h int, err error) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		if len(b) < 24 || string(b[12:16]) != "IHDR" {
			return "PNG", 0, 0, fmt.Errorf("%w: PNG: no IHDR chunk", ErrFormat)
		}
		w, h = int(binary.BigEndian.Uint32(b[16:])), int(binary.BigEndian.Uint32(b[20:]))
		if w > math.MaxInt32 || h > math.MaxInt32 {
			return "PNG", 0, 0, fmt.Errorf("%w: PNG size %d×%d", ErrFormat, w, h)
		}
		return "PNG", w, h, nil
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		w, h, err = jpegSize(b)
		return "JPEG", w, h, err
	}
	return "", 0, 0, fmt.Errorf("%w: neither PNG nor JPEG (starts % x)", ErrFormat, b[:min(len(b), 8)])
}

// jpegSize walks the markers of a JPEG stream up to its first
// start-of-frame (SOF0–SOF15 but DHT, JPG and DAC) and returns the frame's
// width and height.
func jpegSize(b []byte) (w, h int, err error) {
	i := 2 // after SOI
	for {
		// Markers are 0xff, any number of 0xff fill bytes, then the code.
		if i >= len(b) || b[i] != 0xff {
			return 0, 0, fmt.Errorf("%w: JPEG: no frame header (bad marker at byte %d)", ErrFormat, i)
		}
		for i < len(b) && b[i] == 0xff {
			i++
		}
		if i >= len(b) {
			return 0, 0, fmt.Errorf("%w: JPEG: truncated before the frame header", ErrFormat)
		}
		code := b[i]
		i++
		if code == 0x01 || (code >= 0xd0 && code <= 0xd7) { // no length
			continue
		}
		if code == 0xd9 || code == 0xda { // EOI, SOS before any frame
			return 0, 0, fmt.Errorf("%w: JPEG: no frame header before marker 0x%02x", ErrFormat, code)
		}
		if i+2 > len(b) {
			return 0, 0, fmt.Errorf("%w: JPEG: truncated marker 0x%02x", ErrFormat, code)
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return 0, 0, fmt.Errorf("%w: JPEG: marker 0x%02x of length %d overruns the file", ErrFormat, code, n)
		}
		if code >= 0xc0 && code <= 0xcf && code != 0xc4 && code != 0xc8 && code != 0xcc {
			if n < 7 {
				return 0, 0, fmt.Errorf("%w: JPEG: short frame header", ErrFormat)
			}
			h = int(binary.BigEndian.Uint16(b[i+3:]))
			w = int(binary.BigEndian.Uint16(b[i+5:]))
			return w, h, nil
		}
		i += n
	}
}
