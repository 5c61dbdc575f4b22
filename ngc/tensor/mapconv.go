package tensor

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// MapConv computes a convolution (Conv) or a transposed convolution (ConvT)
// of a ConvSpec on maps held in separate map-major slices ([Batch][H][W]
// each, as one feature-map actor holds its inputs) with the tile engine's
// micro-kernels: tile by tile of TileImages images, it copies the inputs
// into one tile buffer (images innermost), computes every output row there
// and copies it back. Unlike ConvMaps it gathers no patch matrix and, for a
// few output maps (one map actor's own), wastes no work on padded rows.
//
// The terms are summed in Conv's (ConvT's) order, one fused multiply-add
// each, so the result equals ConvMaps (ConvTMaps) up to float32 rounding.
// A MapConv owns its scratch buffers: it is not safe for concurrent use.
// Do allocates nothing after its first call (with a given number of
// workers). By default Do runs on the calling goroutine; SetWorkers lets it
// share the tiles among several (RunJob's pool), for a product large
// enough to be worth it.
type MapConv struct {
	s          ConvSpec
	transposed bool
	tc         *TileConv
	out        TileGrid // one output map, no borders
	workers    int
	scratch    []mapConvScratch // [worker]
	job        mapConvJob
}

// mapConvScratch is one worker's tile buffer and output row.
type mapConvScratch struct {
	tile, row []float32
}

// mapConvJob is one Do shared among workers (a Job): each takes the next
// tile from next until none is left.
type mapConvJob struct {
	c    *MapConv
	y, x [][]float32
	next atomic.Int64
}

// Run implements Job.
func (j *mapConvJob) Run(w int) {
	c := j.c
	sc := &c.scratch[w]
	for {
		b0 := int(j.next.Add(1)-1) * TileImages
		if b0 >= c.s.Batch {
			return
		}
		c.loadTile(sc.tile, j.x, b0)
		c.rows(j.y, sc.tile, sc.row, b0)
	}
}

// NewMapConv plans Conv (transposed false: s.InC large maps in, s.OutC
// small maps out) or ConvT (transposed true: s.OutC small maps in, s.InC
// large maps out) for s.Batch images.
func NewMapConv(s ConvSpec, transposed bool) (*MapConv, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	tc, err := NewTileConv(s, transposed)
	if err != nil {
		return nil, err
	}
	c := &MapConv{s: s, transposed: transposed, tc: tc, workers: 1}
	c.out = TileGrid{C: 1, H: tc.Height(), W: tc.Width()}
	c.job.c = c
	return c, nil
}

// minParallelMACs is the smallest product, in multiply-accumulates, that
// Do shares among workers: below it the hand-off costs more than it saves.
const minParallelMACs = 1 << 20

// SetWorkers lets Do share the tiles among up to n goroutines (at most
// GOMAXPROCS, at most one per tile; n ≤ 1: the calling goroutine alone).
// Products of fewer than about a million multiply-accumulates stay on the
// calling goroutine. The output does not depend on the number of workers:
// every tile is computed the same way.
func (c *MapConv) SetWorkers(n int) {
	tiles := (c.s.Batch + TileImages - 1) / TileImages
	n = min(n, runtime.GOMAXPROCS(0), tiles)
	if n < 1 || c.s.MACs() < minParallelMACs {
		n = 1
	}
	c.workers = n
}

// Spec returns the convolution MapConv was planned for.
func (c *MapConv) Spec() ConvSpec { return c.s }

// InputMaps is the number of maps Do reads.
func (c *MapConv) InputMaps() int { return c.tc.In().C }

// OutputMaps is the number of maps Do writes.
func (c *MapConv) OutputMaps() int { return c.tc.Maps() }

// Do computes y from x with kernel ([OutC][InC][K][K], as Conv and ConvT
// take it): for a Conv, y[o] = Σ_c K[o][c] ∗ x[c] (x the s.InC large maps,
// y the s.OutC small ones); for a ConvT, y[c] = Σ_o K[o][c]ᵀ ∗ x[o] (x the
// s.OutC small maps, y the s.InC large ones). Every map holds s.Batch
// images; y is overwritten. The kernel is read on every call, so it may
// change between calls.
func (c *MapConv) Do(y, x [][]float32, kernel []float32) {
	c.checkMaps(y, x)
	for len(c.scratch) < c.workers { // on first use: a plan may never run
		c.scratch = append(c.scratch, mapConvScratch{
			tile: make([]float32, c.tc.In().Len()),
			row:  make([]float32, c.tc.RowLen()),
		})
	}
	c.tc.SetKernel(kernel)
	j := &c.job
	j.y, j.x = y, x
	j.next.Store(0)
	RunJob(j, c.workers)
	j.y, j.x = nil, nil
}

// checkMaps panics unless y holds the output maps and x the input maps,
// each of s.Batch images.
func (c *MapConv) checkMaps(y, x [][]float32) {
	in := c.tc.In()
	if len(x) != in.C || len(y) != c.tc.Maps() {
		panic(fmt.Sprintf("tensor: MapConv of %d maps into %d, got %d into %d", in.C, c.tc.Maps(), len(x), len(y)))
	}
	for i := range x {
		checkLen("MapConv x", x[i], c.s.Batch*in.H*in.W)
	}
	for i := range y {
		checkLen("MapConv y", y[i], c.s.Batch*c.out.H*c.out.W)
	}
}

// loadTile copies images b0… of every input map into the interior of the
// tile buffer tile (layout In), zeroing the lanes past the batch.
func (c *MapConv) loadTile(tile []float32, x [][]float32, b0 int) {
	in := c.tc.In()
	plane := in.H * in.W
	n := min(TileImages, c.s.Batch-b0)
	for ci, xc := range x {
		for r := 0; r < in.H; r++ {
			in.loadRow(in.Row(tile, ci, r), xc[b0*plane+r*in.W:], plane, n)
		}
	}
}

// rows computes every output row of the tile of images b0… from tile (with
// row as scratch) and stores it into y.
func (c *MapConv) rows(y [][]float32, tile, row []float32, b0 int) {
	n := min(TileImages, c.s.Batch-b0)
	rowLen := c.out.W * TileImages
	for r := 0; r < c.out.H; r++ {
		c.tc.Row(row, tile, r)
		for o, yo := range y {
			c.out.StoreRow(yo, row[o*rowLen:(o+1)*rowLen], c.s.Batch, b0, n, 0, r)
		}
	}
}
