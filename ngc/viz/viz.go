// Package viz renders what a person would rather look at than read: grids
// of images (original / corrupted / output rows), feature-map pyramids and
// line plots of curves such as the energy over inference steps. Everything
// is written as PNG.
package viz

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// Images is a batch of images in the image-major layout [N][C][H][W] with
// values in [0, 1] (values outside are clipped when drawn). C is 1 (grey)
// or 3 (RGB).
type Images struct {
	Data    []float32
	N, C, H int
	W       int
}

// Image returns a view of image i.
func (im Images) Image(i int) []float32 {
	n := im.C * im.H * im.W
	return im.Data[i*n : (i+1)*n]
}

func (im Images) check() error {
	if im.C != 1 && im.C != 3 {
		return fmt.Errorf("viz: %d channels (want 1 or 3)", im.C)
	}
	if im.N < 0 || im.H <= 0 || im.W <= 0 || len(im.Data) != im.N*im.C*im.H*im.W {
		return fmt.Errorf("viz: %d floats for %d images of %d×%d×%d", len(im.Data), im.N, im.C, im.H, im.W)
	}
	return nil
}

// Grid lays out rows of images side by side: row r shows the first cols
// images of rows[r], each magnified scale times, separated by a pad-pixel
// white gutter. All rows must share a shape.
func Grid(rows []Images, cols, scale, pad int) (*image.RGBA, error) {
	if len(rows) == 0 || cols <= 0 || scale <= 0 || pad < 0 {
		return nil, fmt.Errorf("viz: grid of %d rows, %d columns, scale %d", len(rows), cols, scale)
	}
	h, w := rows[0].H, rows[0].W
	for _, r := range rows {
		if err := r.check(); err != nil {
			return nil, err
		}
		if r.H != h || r.W != w {
			return nil, fmt.Errorf("viz: grid rows of %d×%d and %d×%d images", h, w, r.H, r.W)
		}
	}
	cw, ch := w*scale+pad, h*scale+pad
	img := image.NewRGBA(image.Rect(0, 0, cols*cw+pad, len(rows)*ch+pad))
	fill(img, color.RGBA{255, 255, 255, 255})
	for r, row := range rows {
		for c := 0; c < cols && c < row.N; c++ {
			drawImage(img, row, c, pad+c*cw, pad+r*ch, scale)
		}
	}
	return img, nil
}

func fill(img *image.RGBA, c color.RGBA) {
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
}

func drawImage(dst *image.RGBA, im Images, i, x0, y0, scale int) {
	v := im.Image(i)
	plane := im.H * im.W
	for y := 0; y < im.H; y++ {
		for x := 0; x < im.W; x++ {
			var rgb [3]uint8
			for c := 0; c < 3; c++ {
				src := c
				if im.C == 1 {
					src = 0
				}
				rgb[c] = toByte(v[src*plane+y*im.W+x])
			}
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					dst.SetRGBA(x0+x*scale+dx, y0+y*scale+dy, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
				}
			}
		}
	}
}

func toByte(v float32) uint8 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.Round(float64(v) * 255))
}

// Normalize rescales every map (each image's each channel) of im to [0, 1]
// by its own minimum and maximum, for showing latent states whose range is
// arbitrary. A constant map becomes 0.5.
func Normalize(im Images) Images {
	out := im
	out.Data = make([]float32, len(im.Data))
	plane := im.H * im.W
	for off := 0; off+plane <= len(im.Data); off += plane {
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range im.Data[off : off+plane] {
			lo, hi = min(lo, v), max(hi, v)
		}
		for i, v := range im.Data[off : off+plane] {
			if hi > lo {
				out.Data[off+i] = (v - lo) / (hi - lo)
			} else {
				out.Data[off+i] = 0.5
			}
		}
	}
	return out
}

// Maps returns channel ch of every image of im as a one-channel batch.
func Maps(im Images, ch int) Images {
	plane := im.H * im.W
	out := Images{N: im.N, C: 1, H: im.H, W: im.W, Data: make([]float32, im.N*plane)}
	for i := 0; i < im.N; i++ {
		copy(out.Data[i*plane:(i+1)*plane], im.Data[(i*im.C+ch)*plane:(i*im.C+ch+1)*plane])
	}
	return out
}

// WritePNG writes img to path, creating its directory.
func WritePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("viz: encode %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	return nil
}
