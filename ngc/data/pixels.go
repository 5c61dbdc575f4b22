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
	switch m := img.(type) {
	case *image.YCbCr:
		// Chroma columns are shared by sx luma columns; COffset takes care
		// of the rows.
		sx := 0 // 0: let the image do all the indexing (rare ratios)
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio440:
			sx = 1
		case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
			sx = 2
		}
		for y := range h {
			k := y * w
			if sx == 0 {
				for x := range w {
					yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
					ci := m.COffset(b.Min.X+x, b.Min.Y+y)
					r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
					rp[k+x], gp[k+x], bp[k+x] = float32(r)/255, float32(g)/255, float32(bl)/255
				}
				continue
			}
			yo := m.YOffset(b.Min.X, b.Min.Y+y)
			co := m.COffset(b.Min.X, b.Min.Y+y) - b.Min.X/sx
			for x, yy := range m.Y[yo : yo+w] {
				ci := co + (b.Min.X+x)/sx
				r, g, bl := color.YCbCrToRGB(yy, m.Cb[ci], m.Cr[ci])
				rp[k+x], gp[k+x], bp[k+x] = float32(r)/255, float32(g)/255, float32(bl)/255
			}
		}
	case *image.Gray:
		for y := range h {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+w]
			for x, v := range row {
				f := float32(v) / 255
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
				rp[k] = float32(row[4*x]) / 255
				gp[k] = float32(row[4*x+1]) / 255
				bp[k] = float32(row[4*x+2]) / 255
			}
		}
	case *image.NRGBA:
		for y := range h {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+4*w]
			for x := range w {
				a := float32(row[4*x+3]) / 255
				k := y*w + x
				rp[k] = float32(row[4*x]) / 255 * a
				gp[k] = float32(row[4*x+1]) / 255 * a
				bp[k] = float32(row[4*x+2]) / 255 * a
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
