package tensor

import (
	"math/rand/v2"
	"testing"
)

// paperSpecs returns the four layer specs of the paper network at batch b.
func paperSpecs(b int) []ConvSpec {
	channels := []int{3, 25, 20, 15, 10}
	size := 32
	var specs []ConvSpec
	for l := 1; l < len(channels); l++ {
		g, _ := SameGeom(size, size, 3, 2)
		specs = append(specs, ConvSpec{Geom: g, Batch: b, InC: channels[l-1], OutC: channels[l], Flip: true})
		size /= 2
	}
	return specs
}

// BenchmarkPaperStep measures one inference step's convolutions of the paper
// network (every prediction ConvT and every feedback Conv) at B=500.
func BenchmarkPaperStep(b *testing.B) {
	specs := paperSpecs(500)
	r := rand.New(rand.NewPCG(1, 1))
	type bufs struct{ large, small, kernel, cols []float32 }
	var bs []bufs
	var macs int64
	for _, s := range specs {
		bs = append(bs, bufs{randSlice(r, s.InLen()), randSlice(r, s.OutLen()), randSlice(r, s.KernelLen()), make([]float32, s.ColsLen())})
		macs += 2 * s.MACs()
	}
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for j, s := range specs {
			ConvT(bs[j].large, bs[j].small, bs[j].kernel, bs[j].cols, s)
			Conv(bs[j].small, bs[j].large, bs[j].kernel, bs[j].cols, s)
		}
	}
	reportCPU(b, c0)
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(2*float64(macs)/sec/1e9, "GFLOP/s")
	b.ReportMetric(500/(sec*60), "img/s@T60")
}

// BenchmarkTileStep measures one inference step's convolutions of the
// paper network on one tile of TileImages images (every prediction ConvT
// and every feedback Conv, row by row), for each micro-kernel set.
func BenchmarkTileStep(b *testing.B) {
	for _, isa := range TileKernelSets() {
		b.Run(isa, func(b *testing.B) {
			old, _ := UseTileKernels(isa)
			defer UseTileKernels(old)
			r := rand.New(rand.NewPCG(1, 1))
			type plan struct {
				p        *TileConv
				src, row []float32
			}
			var plans []plan
			var macs int64
			for _, s := range paperSpecs(TileImages) {
				for _, tr := range []bool{false, true} {
					p, err := NewTileConv(s, tr)
					if err != nil {
						b.Fatal(err)
					}
					p.SetKernel(randSlice(r, s.KernelLen()))
					plans = append(plans, plan{p, randSlice(r, p.In().Len()), make([]float32, p.RowLen())})
				}
				macs += 2 * s.MACs()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, pl := range plans {
					for y := 0; y < pl.p.Height(); y++ {
						pl.p.Row(pl.row, pl.src, y)
					}
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*float64(macs)/sec/1e9, "GFLOP/s")
		})
	}
}
