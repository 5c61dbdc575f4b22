package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/ngc"
)

// NATS connections Runtimes can measure.
const (
	// NATSEmbedded connects to an embedded server in memory, without a
	// TCP port (as `ngc run --bus embedded`).
	NATSEmbedded = "embedded"
	// NATSTCP connects to an embedded server over loopback TCP.
	NATSTCP = "tcp"
)

// RuntimeResult is sync inference measured in one runtime.
type RuntimeResult struct {
	// Runtime is "batched", "inproc", "nats-embedded" or "nats-tcp".
	Runtime         string  `json:"runtime"`
	Batch           int     `json:"batch"`
	Steps           int     `json:"T"`
	Repeats         int     `json:"repeats"`
	SecondsPerBatch float64 `json:"seconds_per_batch"` // best repeat
	MedianSeconds   float64 `json:"median_seconds_per_batch"`
	ImagesPerSecond float64 `json:"images_per_second"` // from the best repeat
	RatioToBatched  float64 `json:"ratio_to_batched"`  // images/s over the batched reference's
	GFLOPs          float64 `json:"gflop_per_second"`  // effective: the model's convolution FLOPs
	// PercentOfPeak is GFLOPs as a share of the FMA peak, for the caller
	// to fill.
	PercentOfPeak float64 `json:"percent_of_fma_peak,omitempty"`
	CPUPerBatch   float64 `json:"cpu_seconds_per_batch"`
	// Bus traffic over the timed batches (actors only): frames published
	// and delivered to subscriptions, per second, and their bytes (header
	// plus 4 bytes per float); on NATS also the bytes on the wire.
	MsgsPerSecond        float64 `json:"msgs_per_second,omitempty"`
	BytesPerSecond       float64 `json:"bytes_per_second,omitempty"`
	DeliveredPerSecond   float64 `json:"delivered_msgs_per_second,omitempty"`
	DeliveredBytesPerSec float64 `json:"delivered_bytes_per_second,omitempty"`
	WireBytesPerSecond   float64 `json:"wire_bytes_per_second,omitempty"`
	MsgsPerBatch         float64 `json:"msgs_per_batch,omitempty"`
	// Actors says whether the result is of the actor runtime (with bus
	// traffic) rather than the batched reference.
	Actors bool `json:"-"`

	bus     bus.Bus
	sess    *circuit.Session
	times   []time.Duration
	cpu     time.Duration
	before  bus.Stats
	release func()
}

// Runtimes measures sync inference (reconstruction) of o's network in the
// batched reference and in the actor runtime on the in-process bus and on
// NATS through an embedded server, once per connection of nats
// (NATSEmbedded, NATSTCP), one batch of each per repeat after a warm-up
// batch. The batched reference comes first.
func Runtimes(ctx context.Context, o Options, nats []string) ([]*RuntimeResult, error) {
	m, ws, x, err := o.model()
	if err != nil {
		return nil, err
	}
	c, err := circuit.FromModel(m)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	results := []*RuntimeResult{{Runtime: "batched"}}
	defer func() {
		for _, res := range results {
			if res.release != nil {
				res.release()
			}
		}
	}()
	for _, name := range append([]string{"inproc"}, nats...) {
		res := &RuntimeResult{Runtime: name, Actors: true}
		if name != "inproc" {
			res.Runtime = "nats-" + name
		}
		results = append(results, res)
		if err := res.open(ctx, c, name, o.Batch); err != nil {
			return nil, err
		}
	}
	once := func(res *RuntimeResult) error {
		if res.sess == nil {
			return m.Infer(ws, x, ngc.Reconstruct, nil, nil)
		}
		_, err := res.sess.RunBatch(ctx, x)
		return err
	}
	// Warm up every runtime, then time them in turn.
	for _, res := range results {
		if err := once(res); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", res.Runtime, err)
		}
		if res.bus != nil {
			res.before = res.bus.Stats()
		}
	}
	for i := 0; i < o.Repeats; i++ {
		for _, res := range results {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			c0, t0 := CPUTime(), time.Now()
			if err := once(res); err != nil {
				return nil, fmt.Errorf("bench: %s: %w", res.Runtime, err)
			}
			// Charge each batch the collection of its own garbage (NATS
			// decodes every frame into fresh memory), which would otherwise
			// slow the next runtime's batch.
			runtime.GC()
			res.times = append(res.times, time.Since(t0))
			res.cpu += CPUTime() - c0
		}
	}
	for _, res := range results {
		res.finish(o.Batch, o.Steps, o.Repeats, results[0].ImagesPerSecond)
		res.GFLOPs = float64(m.FLOPsPerImage(false)) * res.ImagesPerSecond / 1e9
	}
	return results, nil
}

// open starts the bus (and, for NATS, an embedded server) and a sync
// session of circuit c on it.
func (res *RuntimeResult) open(ctx context.Context, c *circuit.Circuit, name string, batch int) error {
	var releases []func()
	res.release = func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
	}
	switch name {
	case "inproc":
		b, err := bus.NewInProc()
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		res.bus = b
	case NATSEmbedded, NATSTCP:
		var sopts []bus.EmbeddedOption
		if name == NATSEmbedded {
			sopts = append(sopts, bus.ServerNoListen())
		}
		srv, err := bus.StartEmbedded(sopts...)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		releases = append(releases, srv.Shutdown)
		var nb *bus.NATS
		if name == NATSEmbedded {
			nb, err = srv.Connect(bus.WithName("ngc bench"))
		} else {
			nb, err = bus.Connect(srv.ClientURL(), bus.WithName("ngc bench"))
		}
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		res.bus = nb
	default:
		return fmt.Errorf("bench: NATS connection %q: want %s or %s", name, NATSEmbedded, NATSTCP)
	}
	releases = append(releases, func() { res.bus.Close() })
	s, err := circuit.Start(ctx, c, res.bus, circuit.Batch(batch), circuit.RunID("bench"), circuit.Timeout(2*time.Minute))
	if err != nil {
		return fmt.Errorf("bench: %s: %w", res.Runtime, err)
	}
	res.sess = s
	releases = append(releases, func() { s.Close() })
	return nil
}

// finish computes the figures from the timed repeats.
func (res *RuntimeResult) finish(batch, steps, repeats int, batchedIPS float64) {
	res.Batch, res.Steps, res.Repeats = batch, steps, repeats
	sorted := slices.Clone(res.times)
	slices.Sort(sorted)
	res.SecondsPerBatch = sorted[0].Seconds()
	res.MedianSeconds = sorted[len(sorted)/2].Seconds()
	if len(sorted)%2 == 0 {
		res.MedianSeconds = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]).Seconds() / 2
	}
	res.ImagesPerSecond = float64(batch) / res.SecondsPerBatch
	if batchedIPS == 0 { // this is the batched reference
		batchedIPS = res.ImagesPerSecond
	}
	res.RatioToBatched = res.ImagesPerSecond / batchedIPS
	res.CPUPerBatch = res.cpu.Seconds() / float64(repeats)
	if res.bus == nil {
		return
	}
	var total time.Duration
	for _, d := range res.times {
		total += d
	}
	sec := total.Seconds()
	after := res.bus.Stats()
	res.MsgsPerSecond = float64(after.Sent.Msgs-res.before.Sent.Msgs) / sec
	res.BytesPerSecond = float64(after.Sent.Bytes-res.before.Sent.Bytes) / sec
	res.DeliveredPerSecond = float64(after.Received.Msgs-res.before.Received.Msgs) / sec
	res.DeliveredBytesPerSec = float64(after.Received.Bytes-res.before.Received.Bytes) / sec
	res.WireBytesPerSecond = float64(after.Received.WireBytes-res.before.Received.WireBytes) / sec
	res.MsgsPerBatch = float64(after.Sent.Msgs-res.before.Sent.Msgs) / float64(repeats)
}

// String is the result as `ngc bench --runtime` prints it: throughput, the
// ratio to the batched reference, best and median seconds per batch, CPU
// seconds per batch, the actors' bus traffic and the effective GFLOP/s.
func (res *RuntimeResult) String() string {
	line := fmt.Sprintf("%-14s %8.1f img/s  %5.2f× batched  %7.3f s/batch (median %.3f)  %6.2f cpu-s/batch",
		res.Runtime, res.ImagesPerSecond, res.RatioToBatched, res.SecondsPerBatch, res.MedianSeconds, res.CPUPerBatch)
	if res.Actors {
		line += fmt.Sprintf("  %8.0f msg/s  %7.1f MB/s published, %8.0f msg/s  %7.1f MB/s delivered",
			res.MsgsPerSecond, res.BytesPerSecond/1e6, res.DeliveredPerSecond, res.DeliveredBytesPerSec/1e6)
		if res.WireBytesPerSecond > 0 {
			line += fmt.Sprintf(", %7.1f MB/s on the wire", res.WireBytesPerSecond/1e6)
		}
	}
	return line + fmt.Sprintf("  %6.2f GFLOP/s", res.GFLOPs)
}
