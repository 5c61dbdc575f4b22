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

// ParseNATS returns the NATS connections a choice names: "embedded" or
// "tcp" (NATSEmbedded or NATSTCP alone), "both", or "none" (no NATS
// runtime: an empty list).
func ParseNATS(s string) ([]string, error) {
	switch s {
	case NATSEmbedded, NATSTCP:
		return []string{s}, nil
	case "both":
		return []string{NATSEmbedded, NATSTCP}, nil
	case "none":
		return nil, nil
	}
	return nil, fmt.Errorf("nats %q: want embedded, tcp, both or none", s)
}

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

	conn    string // "inproc", NATSEmbedded or NATSTCP
	bus     bus.Bus
	sess    *circuit.Session
	traffic traffic
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
//
// One actor session is alive at a time, as in a process of `ngc run`: each
// timed batch runs in a session (with its bus, and for NATS its server)
// started for it and closed after it, outside the timing, so that the
// process's peak memory is that of one runtime rather than of all of them.
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
	for _, name := range append([]string{"inproc"}, nats...) {
		if name != "inproc" && name != NATSEmbedded && name != NATSTCP {
			return nil, fmt.Errorf("bench: NATS connection %q: want %s or %s", name, NATSEmbedded, NATSTCP)
		}
		res := &RuntimeResult{Runtime: name, Actors: true, conn: name}
		if name != "inproc" {
			res.Runtime = "nats-" + name
		}
		results = append(results, res)
	}
	defer func() {
		for _, res := range results {
			res.close()
		}
	}()
	// once runs one batch: in the batched reference, or in a session of
	// the actor runtime started for it (untimed) and left open for the
	// caller to read its bus and close.
	once := func(res *RuntimeResult, timed func() error) error {
		if !res.Actors {
			return timed()
		}
		if err := res.open(ctx, c, res.conn, o.Batch); err != nil {
			return err
		}
		res.before = res.bus.Stats()
		return timed()
	}
	run := func(res *RuntimeResult) func() error {
		return func() error {
			if res.sess == nil {
				return m.Infer(ws, x, ngc.Reconstruct, nil, nil)
			}
			_, err := res.sess.RunBatch(ctx, x)
			return err
		}
	}
	// Warm up every runtime, then time them in turn.
	for _, res := range results {
		if err := once(res, run(res)); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", res.Runtime, err)
		}
		res.close()
	}
	for i := 0; i < o.Repeats; i++ {
		for _, res := range results {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			err := once(res, func() error {
				c0, t0 := CPUTime(), time.Now()
				if err := run(res)(); err != nil {
					return err
				}
				// Charge each batch the collection of its own garbage (NATS
				// decodes every frame into fresh memory), which would
				// otherwise slow the next runtime's batch.
				runtime.GC()
				res.times = append(res.times, time.Since(t0))
				res.cpu += CPUTime() - c0
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("bench: %s: %w", res.Runtime, err)
			}
			if res.bus != nil {
				res.traffic.add(res.before, res.bus.Stats())
			}
			res.close()
		}
	}
	for _, res := range results {
		res.finish(o.Batch, o.Steps, o.Repeats, results[0].ImagesPerSecond)
		res.GFLOPs = float64(m.FLOPsPerImage(false)) * res.ImagesPerSecond / 1e9
	}
	return results, nil
}

// traffic is bus traffic summed over the timed batches.
type traffic struct {
	sent, sentBytes, recv, recvBytes, wireBytes uint64
}

// add adds the traffic between two snapshots of one bus.
func (t *traffic) add(before, after bus.Stats) {
	t.sent += after.Sent.Msgs - before.Sent.Msgs
	t.sentBytes += after.Sent.Bytes - before.Sent.Bytes
	t.recv += after.Received.Msgs - before.Received.Msgs
	t.recvBytes += after.Received.Bytes - before.Received.Bytes
	t.wireBytes += after.Received.WireBytes - before.Received.WireBytes
}

// close closes the runtime's session, bus and server, if open.
func (res *RuntimeResult) close() {
	if res.release != nil {
		res.release()
	}
	res.release, res.sess, res.bus = nil, nil, nil
}

// open starts the bus (and, for NATS, an embedded server) and a sync
// session of circuit c on it; close closes them.
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
			return err
		}
		res.bus = b
	case NATSEmbedded, NATSTCP:
		var sopts []bus.EmbeddedOption
		if name == NATSEmbedded {
			sopts = append(sopts, bus.ServerNoListen())
		}
		srv, err := bus.StartEmbedded(sopts...)
		if err != nil {
			return err
		}
		releases = append(releases, srv.Shutdown)
		var nb *bus.NATS
		if name == NATSEmbedded {
			nb, err = srv.Connect(bus.WithName("ngc bench"))
		} else {
			nb, err = bus.Connect(srv.ClientURL(), bus.WithName("ngc bench"))
		}
		if err != nil {
			return err
		}
		res.bus = nb
	default:
		return fmt.Errorf("NATS connection %q: want %s or %s", name, NATSEmbedded, NATSTCP)
	}
	releases = append(releases, func() { res.bus.Close() })
	s, err := circuit.Start(ctx, c, res.bus, circuit.Batch(batch), circuit.RunID("bench"), circuit.Timeout(2*time.Minute))
	if err != nil {
		return fmt.Errorf("start a session: %w", err)
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
	if !res.Actors {
		return
	}
	var total time.Duration
	for _, d := range res.times {
		total += d
	}
	sec, t := total.Seconds(), res.traffic
	res.MsgsPerSecond = float64(t.sent) / sec
	res.BytesPerSecond = float64(t.sentBytes) / sec
	res.DeliveredPerSecond = float64(t.recv) / sec
	res.DeliveredBytesPerSec = float64(t.recvBytes) / sec
	res.WireBytesPerSecond = float64(t.wireBytes) / sec
	res.MsgsPerBatch = float64(t.sent) / float64(repeats)
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
