package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/metrics"
)

// run waits for the workers, starts the session and feeds the images
// through it, batch after batch, from the first one the journal lacks.
func (co *coordinator) run(ctx context.Context) error {
	if err := co.waitJoin(ctx); err != nil {
		return err
	}
	opts, err := co.man.sessionOptions()
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	batchNo := 0
	opts = append(opts, circuit.Placed(co.man.Placement, co.cfg.node), circuit.TopSeed(co.cfg.seed), circuit.SkipTops(co.done),
		circuit.StepProgress(func(step, steps int) { co.stepDone(batchNo, step, steps) }),
		circuit.OnResend(func(int) {
			co.cfg.metrics.resent(co.cfg.node)
			co.log.Warn(fmt.Sprintf("mini-batch %d made no progress for %v: every actor sends again what it last sent", batchNo, co.cfg.timeout/2),
				"batch", batchNo)
		}))
	// A worker's own report of its failure ends the run at once.
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case err := <-co.failure:
			cancel(err)
		case <-rctx.Done():
		}
	}()
	cause := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("run %s: interrupted after %d of %d mini-batches", co.cfg.run, co.done, co.total)
		}
		if c := context.Cause(rctx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
		return err
	}
	co.c.Encoding = co.cfg.encoding
	s, err := circuit.Start(rctx, co.c, co.b, opts...)
	if err != nil {
		return cause(err)
	}
	co.s = s
	co.cfg.metrics.watch(co.cfg.node, co.b, s)
	if co.cfg.learn && co.done == 0 {
		if skip := co.set.Len() - co.per*co.B; skip > 0 {
			co.log.Info(fmt.Sprintf("learning uses %d mini-batches of %d per epoch; the last %d images are skipped", co.per, co.B, skip))
		}
	}
	if co.cfg.val != nil && co.done == 0 {
		if err := co.validate(rctx, co.start, 0); err != nil {
			return cause(err)
		}
	}
	for k := co.done; k < co.total; k++ {
		batchNo = k + 1
		if err := co.batch(rctx, k); err != nil {
			return cause(err)
		}
	}
	return nil
}

// validate measures model m, the actors' after batches mini-batches, on
// the validation images (WithValidation) and records it in the curve.
func (co *coordinator) validate(ctx context.Context, m *ngc.Model, batches int) error {
	res, err := m.Evaluate(ctx, co.cfg.val, ngc.EvalOptions{Task: ngc.Reconstruct, Batch: co.B, Seed: co.cfg.seed})
	if err != nil {
		return fmt.Errorf("deploy: validation after %d mini-batches: %w", batches, err)
	}
	st := co.b.Stats()
	p := CurvePoint{Batches: batches, ImageUpdates: co.rt.Images, Messages: st.Sent.Msgs, Bytes: st.Sent.Bytes,
		Seconds: co.rt.Seconds, MSE: res.Report.MSE, PSNR: res.Report.PSNR, SSIM: res.Report.SSIM}
	if co.s != nil {
		p.SynapticOps = co.s.SynapticOps()
	}
	co.curve = append(co.curve, p)
	co.log.Info(fmt.Sprintf("validation after %d mini-batches (%d image-updates): MSE %.2f", batches, p.ImageUpdates, p.MSE))
	return nil
}

// images fills clean with mini-batch k's images (a last partial batch is
// padded with its own first images, which are not measured) and in with
// what the circuit is given; it returns the number of real images.
func (co *coordinator) images(k int, clean, in []float32) int {
	n := co.set.Len()
	lo := (k % co.per) * co.B
	got := min(co.B, n-lo)
	copy(clean, co.set.Images[lo*data.ImageSize:(lo+got)*data.ImageSize])
	for i := got; i < co.B; i++ {
		copy(clean[i*data.ImageSize:(i+1)*data.ImageSize], clean[(i%got)*data.ImageSize:])
	}
	if co.cfg.task == ngc.Denoise {
		ngc.Corrupt(in, clean, co.cfg.noiseStd, !co.cfg.clip, co.noise)
	} else {
		copy(in, clean)
	}
	return got
}

// batch runs mini-batch k (0-based) through the circuit and records it.
func (co *coordinator) batch(ctx context.Context, k int) error {
	clean := make([]float32, co.B*data.ImageSize)
	in := make([]float32, co.B*data.ImageSize)
	got := co.images(k, clean, in)
	start := time.Now()
	r, err := co.s.RunBatch(ctx, in)
	if err != nil {
		return err
	}
	rec := batchRecord{Batch: k + 1, Images: got, Seconds: time.Since(start).Seconds(), Trace: r.Trace(), Async: r.Async}
	if rec.Async != nil {
		rec.Async.Timeline = nil
	}
	out := r.Output[:got*data.ImageSize]
	if err := co.account(rec, clean, in, out); err != nil {
		return err
	}
	validate := co.cfg.val != nil && ((k+1)%co.cfg.valEvery == 0 || k+1 == co.total)
	if co.cfg.learn && (co.journal != nil || k+1 == co.total || validate) {
		if err := co.gatherModel(ctx); err != nil {
			return err
		}
	}
	if validate {
		if err := co.validate(ctx, co.model, k+1); err != nil {
			return err
		}
	}
	if co.journal != nil {
		if err := co.journal.record(rec, out, co.model); err != nil {
			return err
		}
	}
	if co.nc != nil {
		_ = co.nc.Publish(subject(co.cfg.run, "batch"), encodeJSON(BatchNote{Batch: k + 1, Of: co.total, Images: got, Seconds: rec.Seconds}))
	}
	energy := sum(rec.Trace.Final)
	co.cfg.metrics.batchDone(co, rec, energy)
	co.log.Debug("mini-batch done", "batch", k+1, "of", co.total, "images", got, "seconds", rec.Seconds, "energy", energy)
	if co.cfg.progress != nil {
		co.cfg.progress(Progress{Batch: k + 1, Batches: co.total, Step: co.c.Config.Steps, Steps: co.c.Config.Steps, Done: true,
			Images: co.rt.Images, ImagesPerSecond: float64(co.rt.Images) / co.rt.Seconds, Energy: energy})
	}
	return nil
}

// stepDone reports a step of the batch in flight.
func (co *coordinator) stepDone(batch, step, steps int) {
	co.cfg.metrics.stepDone(co.cfg.node, batch, step, steps, co.total)
	if co.cfg.progress != nil {
		co.cfg.progress(Progress{Batch: batch, Batches: co.total, Step: step, Steps: steps, Images: co.rt.Images})
	}
}

// account adds one completed mini-batch (clean originals, the circuit's
// input, the measured outputs of its real images) to the measurements. A
// resumed run replays the journal's batches through it, so the sums are
// taken in the same order as in an uninterrupted run.
func (co *coordinator) account(rec batchRecord, clean, in, out []float32) error {
	got := rec.Images
	if err := co.acc.Add(clean[:len(out)], out, metrics.Shape{N: got, C: data.Channels, H: data.Height, W: data.Width}); err != nil {
		return err
	}
	res := &co.res
	tr := rec.Trace
	if res.Energy == nil {
		res.Energy = make([]float64, len(tr.Steps))
		res.EnergyLayers = make([][]float64, len(tr.Steps))
		for t := range res.EnergyLayers {
			res.EnergyLayers[t] = make([]float64, len(tr.Steps[t]))
		}
	}
	for t, layers := range tr.Steps {
		for l, v := range layers {
			res.EnergyLayers[t][l] += v * float64(got)
			res.Energy[t] += v * float64(got)
		}
	}
	if kept := len(res.Original) / data.ImageSize; kept < keepSamples {
		take := min(keepSamples-kept, got) * data.ImageSize
		res.Original = append(res.Original, clean[:take]...)
		res.Corrupted = append(res.Corrupted, in[:take]...)
		res.Output = append(res.Output, out[:take]...)
	}
	res.Images += got
	co.rt.add(rec)
	co.done = rec.Batch
	return nil
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// gatherModel gathers the trained parameters and the optimiser's state
// from the actors into a model with the run's config, so that training
// resumes from it as from a batched checkpoint.
func (co *coordinator) gatherModel(ctx context.Context) error {
	if co.model != nil && co.s == nil {
		return nil // every batch came from the journal
	}
	p, err := co.s.Params(ctx)
	if err != nil {
		return err
	}
	m, err := co.c.ToModel(p)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	co.model = m
	return nil
}
