package viz

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestGridLayoutAndColours(t *testing.T) {
	red := Images{N: 2, C: 3, H: 2, W: 2, Data: make([]float32, 2*3*4)}
	for i := 0; i < 2; i++ {
		for p := 0; p < 4; p++ {
			red.Data[i*12+p] = 1 // R plane
		}
	}
	grey := Images{N: 2, C: 1, H: 2, W: 2, Data: []float32{0.5, 0.5, 0.5, 0.5, 0, 0, 0, 2}}
	img, err := Grid([]Images{red, grey}, 2, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 2*(2*3+1)+1 || b.Dy() != 2*(2*3+1)+1 {
		t.Fatalf("grid is %v", b)
	}
	if c := img.RGBAAt(1, 1); c.R != 255 || c.G != 0 || c.B != 0 {
		t.Errorf("first tile pixel = %v, want red", c)
	}
	if c := img.RGBAAt(1, 8); c.R != 128 || c.G != 128 {
		t.Errorf("grey tile pixel = %v, want mid grey", c)
	}
	if c := img.RGBAAt(0, 0); c.R != 255 || c.G != 255 || c.B != 255 {
		t.Errorf("gutter = %v, want white", c)
	}
	path := filepath.Join(t.TempDir(), "g", "grid.png")
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("written PNG does not decode: %v", err)
	}
	if _, err := Grid([]Images{{N: 1, C: 2, H: 2, W: 2, Data: make([]float32, 8)}}, 1, 1, 0); err == nil {
		t.Error("Grid accepted 2-channel images")
	}
}

func TestNormalize(t *testing.T) {
	im := Normalize(Images{N: 1, C: 2, H: 1, W: 2, Data: []float32{-1, 3, 7, 7}})
	want := []float32{0, 1, 0.5, 0.5}
	for i, v := range want {
		if im.Data[i] != v {
			t.Errorf("Normalize[%d] = %v, want %v", i, im.Data[i], v)
		}
	}
}

func TestLinePlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.png")
	lp := LinePlot{Title: "energy", XLabel: "step", YLabel: "E", LogY: true,
		Series: []Series{{Name: "a", X: []float64{1, 2, 3}, Y: []float64{3, 2, 1}}}}
	if err := lp.WritePNG(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() < 1000 {
		t.Fatalf("plot file: %v, %v", st, err)
	}
	bad := LinePlot{Series: []Series{{X: []float64{1}, Y: nil}}}
	if err := bad.WritePNG(path); err == nil {
		t.Error("mismatched series accepted")
	}
}

func TestLogTicksLabelNarrowRanges(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   int // at least this many labelled ticks in range
	}{
		{0.5, 5000, 3}, // several decades: the powers of ten
		{11, 60, 2},    // within one decade: 20, 50
		{11.2, 11.9, 2},
		{3, 4.5, 2},
	} {
		labelled := 0
		for _, tk := range (logTicks{}).Ticks(tc.lo, tc.hi) {
			if tk.Label != "" && tk.Value >= tc.lo && tk.Value <= tc.hi {
				labelled++
			}
		}
		if labelled < tc.want {
			t.Errorf("[%v, %v]: %d labelled ticks, want at least %d", tc.lo, tc.hi, labelled, tc.want)
		}
	}
}

func TestWritePanels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "panels.png")
	mk := func(title string, log bool) LinePlot {
		return LinePlot{Title: title, XLabel: "update", LogY: log,
			Series: []Series{{Name: "s", X: []float64{1, 2, 3}, Y: []float64{30, 20, 15}}}}
	}
	if err := WritePanels(path, 2, []LinePlot{mk("a", true), mk("b", false), mk("c", true)}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width <= cfg.Height { // two columns of 12 cm, two rows of 9 cm
		t.Errorf("panel image %d×%d, want wider than tall", cfg.Width, cfg.Height)
	}
	if err := WritePanels(path, 0, nil); err == nil {
		t.Error("no panels accepted")
	}
}
