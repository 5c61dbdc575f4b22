package experiment

import (
	"fmt"
	"path/filepath"

	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/viz"
)

// figureScale and figurePad are the magnification and gutter of the
// figures' images.
const (
	figureScale = 3
	figurePad   = 2
)

// trialSamples returns the stored samples of trial 1 of model m trained on
// ds, or nil.
func trialSamples(dir string, trials []Trial, m, ds string) (*samples, error) {
	for _, t := range trials {
		if t.Model == m && t.Dataset == ds && t.Trial == 1 {
			s, err := readSamples(filepath.Join(dir, "samples", t.Name+"-"+t.Key+".safetensors"))
			if err != nil {
				return nil, err
			}
			return s, nil
		}
	}
	return nil, nil
}

// images views a stored [N, C, H, W] tensor as viz.Images.
func images(v []float32, shape []int) (viz.Images, error) {
	if len(shape) != 4 || shape[0]*shape[1]*shape[2]*shape[3] != len(v) {
		return viz.Images{}, fmt.Errorf("experiment: sample of shape %v holds %d values", shape, len(v))
	}
	return viz.Images{Data: v, N: shape[0], C: shape[1], H: shape[2], W: shape[3]}, nil
}

// blank is an empty row that separates groups in a grid.
func blank() viz.Images { return viz.Images{N: 0, C: 1, H: data.Height, W: data.Width} }

// enlarge resizes the maps of im to h×w by nearest neighbour (a pixel of
// an 8×8 map becomes a 4×4 block of a 32×32 one).
func enlarge(im viz.Images, h, w int) viz.Images {
	out := viz.Images{N: im.N, C: im.C, H: h, W: w, Data: make([]float32, im.N*im.C*h*w)}
	for m := 0; m < im.N*im.C; m++ {
		src := im.Data[m*im.H*im.W : (m+1)*im.H*im.W]
		dst := out.Data[m*h*w : (m+1)*h*w]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dst[y*w+x] = src[(y*im.H/h)*im.W+x*im.W/w]
			}
		}
	}
	return out
}

// writeFigures writes Figure 3 (original / corrupted / each model's
// denoising) and Figure 4 (Conv-NGC's bottom states) from the samples of
// trial 1, and returns the files written.
func writeFigures(dir string, p Protocol, trials []Trial) ([]string, error) {
	var files []string
	models := orderedModels(p)
	var rows []viz.Images
	cols := 0
	for _, ds := range figure3Datasets(p) {
		var group []viz.Images
		for _, m := range models {
			s, err := trialSamples(dir, trials, m, ds)
			if err != nil {
				return files, err
			}
			if s == nil {
				continue
			}
			if len(group) == 0 {
				for _, what := range []string{"original", "input"} {
					t, ok := s.get(ds, taskDenoise, what)
					if !ok {
						continue
					}
					im, err := images(t.Data, t.Shape)
					if err != nil {
						return files, err
					}
					group = append(group, im)
				}
			}
			t, ok := s.get(ds, taskDenoise, "output")
			if !ok {
				continue
			}
			im, err := images(t.Data, t.Shape)
			if err != nil {
				return files, err
			}
			group = append(group, im)
		}
		if len(group) == 0 {
			continue
		}
		if len(rows) > 0 {
			rows = append(rows, blank())
		}
		for _, g := range group {
			cols = max(cols, g.N)
		}
		rows = append(rows, group...)
	}
	if cols > 0 {
		img, err := viz.Grid(rows, cols, figureScale, figurePad)
		if err != nil {
			return files, fmt.Errorf("experiment: figure 3: %w", err)
		}
		if err := viz.WritePNG(filepath.Join(dir, Figure3File), img); err != nil {
			return files, err
		}
		files = append(files, Figure3File)
	}

	rows, cols = nil, 0
	for _, ds := range figure3Datasets(p) {
		s, err := trialSamples(dir, trials, ConvNGC, ds)
		if err != nil {
			return files, err
		}
		if s == nil {
			continue
		}
		orig, ok := s.get(ds, taskRecon, "original")
		if !ok {
			continue
		}
		in, err := images(orig.Data, orig.Shape)
		if err != nil {
			return files, err
		}
		var layers []viz.Images
		for l := figureLayers; l >= 1; l-- {
			t, ok := s.get(ds, taskRecon, fmt.Sprintf("latent.%d", l))
			if !ok {
				continue
			}
			im, err := images(t.Data, t.Shape)
			if err != nil {
				return files, err
			}
			layers = append(layers, im)
		}
		for i := 0; i < min(2, in.N); i++ {
			if len(rows) > 0 {
				rows = append(rows, blank())
			}
			for _, lat := range layers {
				one := viz.Images{Data: lat.Image(i), N: lat.C, C: 1, H: lat.H, W: lat.W}
				one = enlarge(viz.Normalize(one), data.Height, data.Width)
				rows = append(rows, one)
				cols = max(cols, one.N)
			}
			rows = append(rows, viz.Images{Data: in.Image(i), N: 1, C: in.C, H: in.H, W: in.W})
			cols = max(cols, 1)
		}
	}
	if cols > 0 {
		img, err := viz.Grid(rows, cols, 2, figurePad)
		if err != nil {
			return files, fmt.Errorf("experiment: figure 4: %w", err)
		}
		if err := viz.WritePNG(filepath.Join(dir, Figure4File), img); err != nil {
			return files, err
		}
		files = append(files, Figure4File)
	}
	return files, nil
}
