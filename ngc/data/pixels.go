package data

import (
	"image"
	"image/color"
)

// toPlanes writes img as three planes (R, G, B; each row-major, values in
// [0, 1]) into dst, which holds 3·w·h floats for the w×h image. The common
// decoder outputs take fast paths; anything else goes through the color
// model, which composites transparency over black (premultiplied alpha).
func toPlanes(dst []float32, img image.Image) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	rp, gp, bp := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	const inv8 = 1.0 / 255
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				k := y*w + x
				rp[k], gp[k], bp[k] = float32(r)*inv8, float32(g)*inv8, float32(bl)*inv8
			}
		}
	case *image.Gray:
		for y := range h {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+w]
			for x, v := range row {
				f := float32(v) * inv8
				k := y*w + x
				rp[k], gp[k], bp[k] = f, f, f
			}
		}
	case *image.RGBA:
		for y := range h {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+4*w]
			for x := range w {
				k := y*w + x
				rp[k] = float32(row[4*x]) * inv8
				gp[k] = float32(row[4*x+1]) * inv8
				bp[k] = float32(row[4*x+2]) * inv8
			}
		}
	case *image.NRGBA:
		for y := range h {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+4*w]
			for x := range w {
				a := float32(row[4*x+3]) * inv8
				k := y*w + x
				rp[k] = float32(row[4*x]) * inv8 * a
				gp[k] = float32(row[4*x+1]) * inv8 * a
				bp[k] = float32(row[4*x+2]) * inv8 * a
			}
		}
	case *image.Paletted:
		var pal [256][3]float32
		for i, c := range m.Palette {
			if i >= len(pal) {
				break
			}
			r, g, bl, _ := c.RGBA()
			pal[i] = [3]float32{float32(r) / 0xffff, float32(g) / 0xffff, float32(bl) / 0xffff}
		}
		// Indices beyond the palette stay black, as pal is zero there.
		for y := range h {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+w]
			for x, v := range row {
				k := y*w + x
				rp[k], gp[k], bp[k] = pal[v][0], pal[v][1], pal[v][2]
			}
		}
	default:
		for y := range h {
			for x := range w {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				k := y*w + x
				rp[k], gp[k], bp[k] = float32(r)/0xffff, float32(g)/0xffff, float32(bl)/0xffff
			}
		}
	}
}
