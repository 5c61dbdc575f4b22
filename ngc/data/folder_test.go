package data

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// encodePNG encodes img as PNG.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodeJPEG encodes img as JPEG at quality 100.
func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pattern returns a w×h opaque image with pixel (x, y) = (4x, 4y, 100).
func pattern(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(4 * x), uint8(4 * y), 100, 255})
		}
	}
	return m
}

// uniform returns a w×h image of one colour.
func uniformImage(w, h int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// pixel returns the (r, g, b) of pixel (x, y) of image i of s.
func pixel(s *Set, i, x, y int) [3]float32 {
	img := s.Image(i)
	k := y*Width + x
	return [3]float32{img[k], img[PlaneSize+k], img[2*PlaneSize+k]}
}

func TestLoadImageFolder(t *testing.T) {
	root := t.TempDir()
	// bird: a 64×64 paletted image of uniform 2×2 blocks (area average), a
	// 48×40 and a 16×16 image of one colour (bilinear down and up).
	pal := image.NewPaletted(image.Rect(0, 0, 64, 64), color.Palette{color.Black, color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}})
	for y := range 64 {
		for x := range 64 {
			pal.SetColorIndex(x, y, uint8((x/2+y/2)%3))
		}
	}
	writeFile(t, root, "bird/p.png", encodePNG(t, pal))
	writeFile(t, root, "bird/q.png", encodePNG(t, uniformImage(48, 40, color.NRGBA{51, 102, 153, 255})))
	writeFile(t, root, "bird/r.png", encodePNG(t, uniformImage(16, 16, color.NRGBA{0, 255, 0, 255})))
	// cat: an exact RGB pattern and a greyscale image, with a half
	// transparent pixel.
	cat := pattern(32, 32)
	cat.SetNRGBA(0, 0, color.NRGBA{255, 255, 255, 0})
	cat.SetNRGBA(1, 0, color.NRGBA{200, 100, 50, 51})
	writeFile(t, root, "cat/a.png", encodePNG(t, cat))
	gray := image.NewGray(image.Rect(0, 0, 32, 32))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	writeFile(t, root, "cat/b.PNG", encodePNG(t, gray))
	// dog: JPEGs with upper-case and .jpeg extensions, one nested deeper.
	writeFile(t, root, "dog/x.JPG", encodeJPEG(t, uniformImage(32, 32, color.NRGBA{200, 40, 90, 255})))
	writeFile(t, root, "dog/sub/y.jpeg", encodeJPEG(t, pattern(32, 32)))
	// Ignored: hidden files and folders, other extensions.
	writeFile(t, root, ".hidden/z.png", encodePNG(t, pattern(32, 32)))
	writeFile(t, root, "cat/.DS_Store", []byte("junk"))
	writeFile(t, root, "cat/notes.txt", []byte("not an image"))

	s, err := LoadImageFolder(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	checkRange(t, s)
	if want := []string{"bird", "cat", "dog"}; !slices.Equal(s.Classes, want) {
		t.Fatalf("classes %v, want %v", s.Classes, want)
	}
	if want := []int{0, 0, 0, 1, 1, 2, 2}; !slices.Equal(s.Labels, want) {
		t.Fatalf("labels %v, want %v", s.Labels, want)
	}
	const eps = 1e-6
	check := func(what string, got [3]float32, want [3]float32, tol float32) {
		t.Helper()
		for c := range 3 {
			if !near(got[c], want[c], tol) {
				t.Errorf("%s: got %v, want %v", what, got, want)
				return
			}
		}
	}
	// bird/p.png: block (x, y) of the 32×32 result is palette entry (x+y)%3.
	palRGB := [][3]float32{{0, 0, 0}, {1, 0, 0}, {0, 0, 1}}
	for _, p := range [][2]int{{0, 0}, {1, 0}, {5, 9}, {31, 31}} {
		check("paletted, area-averaged", pixel(s, 0, p[0], p[1]), palRGB[(p[0]+p[1])%3], eps)
	}
	check("bilinear down", pixel(s, 1, 17, 3), [3]float32{0.2, 0.4, 0.6}, eps)
	check("bilinear up", pixel(s, 2, 31, 0), [3]float32{0, 1, 0}, eps)
	// cat/a.png: exact, transparency over black.
	check("pattern", pixel(s, 3, 7, 5), [3]float32{28.0 / 255, 20.0 / 255, 100.0 / 255}, eps)
	check("transparent", pixel(s, 3, 0, 0), [3]float32{0, 0, 0}, eps)
	check("alpha 0.2", pixel(s, 3, 1, 0), [3]float32{200.0 / 255 * 0.2, 100.0 / 255 * 0.2, 50.0 / 255 * 0.2}, 1e-3)
	// cat/b.PNG: greyscale in all three planes.
	check("gray", pixel(s, 4, 3, 2), [3]float32{67.0 / 255, 67.0 / 255, 67.0 / 255}, eps)
	// dog: JPEG is lossy.
	check("jpeg nested", pixel(s, 5, 10, 20), [3]float32{40.0 / 255, 80.0 / 255, 100.0 / 255}, 0.03)
	check("jpeg", pixel(s, 6, 16, 16), [3]float32{200.0 / 255, 40.0 / 255, 90.0 / 255}, 0.03)
}

// bigPNG returns a valid 1×1 PNG whose header claims w×h pixels.
func bigPNG(t *testing.T, w, h uint32) []byte {
	t.Helper()
	b := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	// The IHDR chunk: length at 8, type at 12, width at 16, height at 20,
	// CRC over type and data at 29.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestLoadImageFolderErrors(t *testing.T) {
	good := encodePNG(t, pattern(32, 32))
	tests := []struct {
		name  string
		files map[string][]byte
		bad   string // the file the error must name ("" for none)
		want  error
	}{
		{"corrupt png", map[string][]byte{"a/1.png": good, "a/2.png": good[:len(good)/2]}, "a/2.png", ErrFormat},
		{"not an image", map[string][]byte{"a/1.png": good, "b/x.jpg": []byte("hello")}, "b/x.jpg", ErrFormat},
		{"corrupt jpeg", map[string][]byte{"a/x.jpg": {0xff, 0xd8, 0xff, 0x00}}, "a/x.jpg", ErrFormat},
		{"huge", map[string][]byte{"a/x.png": bigPNG(t, 1<<15, 1<<15)}, "a/x.png", ErrTooLarge},
		{"outside class", map[string][]byte{"a/1.png": good, "top.png": good}, "top.png", ErrFormat},
		{"empty", map[string][]byte{"a/readme.txt": []byte("x")}, "", ErrNoImages},
	}
	for _, tc := range tests {
		root := t.TempDir()
		for name, b := range tc.files {
			writeFile(t, root, name, b)
		}
		_, err := LoadImageFolder(context.Background(), root)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.bad != "" && !strings.Contains(err.Error(), filepath.Join(root, tc.bad)) {
			t.Errorf("%s: %q does not name %s", tc.name, err, tc.bad)
		}
	}
	if _, err := LoadImageFolder(context.Background(), filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing root: no error")
	}
	file := writeFile(t, t.TempDir(), "f.png", good)
	if _, err := LoadImageFolder(context.Background(), file); err == nil {
		t.Error("root is a file: no error")
	}
}

func TestLoadImageFolderCancel(t *testing.T) {
	root := t.TempDir()
	good := encodePNG(t, pattern(32, 32))
	for i := range 20 {
		writeFile(t, root, filepath.Join("a", string(rune('a'+i))+".png"), good)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadImageFolder(ctx, root); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled load: %v", err)
	}
}

// copyDir copies the regular files of src into dst.
func copyDir(t testing.TB, dst, src string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// psnr returns the peak signal-to-noise ratio of a against b, in dB, on the
// [0, 1] scale.
func psnr(a, b []float32) float64 {
	var se float64
	for i := range a {
		d := float64(a[i] - b[i])
		se += d * d
	}
	return 10 * math.Log10(float64(len(a))/se)
}

// TestLoadImageFolderRealJPEG loads the 1,000 test cats of the CIFAR-10
// JPEG copy and compares them with the exact images of the binary batch:
// file k of a class is the k-th image of that class, and the copy is a
// lossy re-encoding (PSNR about 30 dB).
func TestLoadImageFolderRealJPEG(t *testing.T) {
	src := dataPath(t, "cifar10", "jpeg", "test", "cat")
	bin := dataPath(t, "cifar10", "bin", "test_batch.bin")
	root := t.TempDir()
	copyDir(t, filepath.Join(root, "cat"), src)
	s, err := LoadImageFolder(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1000 || !slices.Equal(s.Classes, []string{"cat"}) {
		t.Fatalf("%d images of %v, want 1000 cats", s.Len(), s.Classes)
	}
	checkRange(t, s)
	exact, err := LoadCIFAR10Bin(bin)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for i := range exact.Len() {
		if exact.Labels[i] != 3 {
			continue
		}
		if p := psnr(s.Image(k), exact.Image(i)); p < 20 {
			t.Errorf("cat %d (test record %d): PSNR %.1f dB against the exact image, want > 20", k, i, p)
		}
		if k > 0 {
			// And clearly not the same as the previous cat.
			if p := psnr(s.Image(k), exact.Image(i-1)); p > 20 {
				t.Errorf("cat %d also matches record %d (PSNR %.1f)", k, i-1, p)
			}
		}
		if k++; k == 20 {
			break
		}
	}
}

func FuzzDecodeImage(f *testing.F) {
	f.Add(encodePNG(f, pattern(32, 32)))
	f.Add(encodePNG(f, image.NewGray(image.Rect(0, 0, 5, 40))))
	f.Add(encodePNG(f, image.NewPaletted(image.Rect(0, 0, 64, 64), color.Palette{color.White})))
	f.Add(encodePNG(f, image.NewRGBA64(image.Rect(0, 0, 3, 3))))
	f.Add(encodeJPEG(f, pattern(32, 32)))
	f.Add(encodeJPEG(f, image.NewGray(image.Rect(0, 0, 7, 9))))
	f.Fuzz(func(t *testing.T, in []byte) {
		dst := make([]float32, ImageSize)
		if _, err := decodeImage(dst, in, 1<<14, nil); err != nil {
			return
		}
		for i, v := range dst {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("value %d = %v not in [0, 1]", i, v)
			}
		}
	})
}

func BenchmarkLoadImageFolder(b *testing.B) {
	for _, split := range []string{"test", "train"} {
		b.Run(split, func(b *testing.B) {
			root := dataPath(b, "cifar10", "jpeg", split)
			var n int
			for b.Loop() {
				s, err := LoadImageFolder(context.Background(), root)
				if err != nil {
					b.Fatal(err)
				}
				n = s.Len()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

func TestLoadImageFolderSymlinks(t *testing.T) {
	good := encodePNG(t, pattern(32, 32))
	base := t.TempDir()
	elsewhere := filepath.Join(base, "elsewhere")
	writeFile(t, elsewhere, "1.png", good)
	writeFile(t, elsewhere, "2.png", good)
	real := filepath.Join(base, "real")
	writeFile(t, real, "cat/a.png", good)
	symlink := func(target, link string) {
		t.Helper()
		if err := os.Symlink(target, link); err != nil {
			t.Skipf("symbolic links: %v", err)
		}
	}
	symlink(elsewhere, filepath.Join(real, "dog"))    // a linked class folder
	symlink(real, filepath.Join(real, "cat", "loop")) // a cycle
	link := filepath.Join(base, "link")
	symlink(real, link) // a linked root
	s, err := LoadImageFolder(context.Background(), link)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes, []string{"cat", "dog"}) || s.Len() != 3 {
		t.Fatalf("classes %v, %d images; want cat, dog and 3", s.Classes, s.Len())
	}
	// A dangling link with an image name is an error that names it.
	symlink(filepath.Join(base, "missing.png"), filepath.Join(real, "cat", "b.png"))
	if _, err := LoadImageFolder(context.Background(), link); err == nil || !strings.Contains(err.Error(), "b.png") {
		t.Fatalf("dangling image link: %v", err)
	}
}
