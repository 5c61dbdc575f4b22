package data

import (
	"image"
	"image/color"
	"testing"
)

// TestToPlanesYCbCr checks the fast YCbCr path against the image's own
// colour model for every subsampling ratio and an offset rectangle.
func TestToPlanesYCbCr(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	for _, ratio := range ratios {
		for _, r := range []image.Rectangle{image.Rect(0, 0, 9, 7), image.Rect(3, 5, 14, 11)} {
			m := image.NewYCbCr(r, ratio)
			for i := range m.Y {
				m.Y[i] = uint8(i * 7)
			}
			for i := range m.Cb {
				m.Cb[i], m.Cr[i] = uint8(i*13+50), uint8(200-i*11)
			}
			// Also a sub-image, whose bounds start inside the parent.
			for _, img := range []*image.YCbCr{m, m.SubImage(image.Rect(r.Min.X+1, r.Min.Y+1, r.Max.X, r.Max.Y)).(*image.YCbCr)} {
				b := img.Bounds()
				w, h := b.Dx(), b.Dy()
				dst := make([]float32, 3*w*h)
				toPlanes(dst, img)
				for y := range h {
					for x := range w {
						c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
						k := y*w + x
						got := [3]float32{dst[k], dst[w*h+k], dst[2*w*h+k]}
						want := [3]float32{float32(c.R) / 255, float32(c.G) / 255, float32(c.B) / 255}
						if got != want {
							t.Fatalf("%v %v pixel (%d,%d): %v, want %v", ratio, b, x, y, got, want)
						}
					}
				}
			}
		}
	}
}

func TestImageSize(t *testing.T) {
	png := encodePNG(t, pattern(40, 24))
	jpg := encodeJPEG(t, pattern(17, 33))
	tests := []struct {
		name   string
		in     []byte
		format string
		w, h   int
		ok     bool
	}{
		{"png", png, "PNG", 40, 24, true},
		{"jpeg", jpg, "JPEG", 17, 33, true},
		{"png no IHDR", png[:20], "PNG", 0, 0, false},
		{"jpeg cut", jpg[:30], "JPEG", 0, 0, false},
		{"jpeg EOI first", []byte{0xff, 0xd8, 0xff, 0xd9}, "JPEG", 0, 0, false},
		{"jpeg bad length", []byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01}, "JPEG", 0, 0, false},
		{"gif", []byte("GIF89a"), "", 0, 0, false},
	}
	for _, tc := range tests {
		format, w, h, err := imageSize(tc.in)
		if (err == nil) != tc.ok || format != tc.format || w != tc.w || h != tc.h {
			t.Errorf("%s: %s %d×%d %v", tc.name, format, w, h, err)
		}
	}
}
