package deploy

import (
	"encoding/json"
	"time"

	"github.com/convngc/convngc/circuit"
)

// Runtime holds the runtime's figures of a run, over every process.
type Runtime struct {
	Bus     string `json:"bus"`
	Nodes   int    `json:"nodes"`
	Batches int    `json:"batches"`
	Images  int    `json:"images"`
	// Seconds is the wall time of the mini-batches.
	Seconds         float64 `json:"seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
	// Messages and Bytes count every frame published (Bytes: header plus 4
	// bytes per float); WireBytes what went over NATS after compression.
	// A resumed run counts the traffic of its last attempt only.
	Messages          uint64  `json:"messages"`
	Bytes             uint64  `json:"bytes"`
	WireBytes         uint64  `json:"wire_bytes"`
	Deliveries        uint64  `json:"deliveries"`
	MessagesPerSecond float64 `json:"messages_per_second"`
	BytesPerSecond    float64 `json:"bytes_per_second"`
	Dropped           uint64  `json:"dropped"`
	Rejected          uint64  `json:"rejected"`
	// Resends counts the resend rounds of the coordinator: mini-batches
	// that stalled for half the timeout and were repaired by their senders
	// sending again what they last sent (sync mode).
	Resends int `json:"resend_rounds"`
	// RejectedBy says which node rejected how many frames, by the sender
	// they claimed, the reason and the subject: node → "from S", "reason R"
	// or "on SUBJECT" → count.
	RejectedBy map[string]map[string]uint64 `json:"rejected_by,omitempty"`
	// Encoding is how the map messages travelled ("dense", "sigma-delta
	// θ=…"). SynapticOps are the synaptic operations (multiply-accumulates
	// of predictions and feedback, summed over images) of every process's
	// populations (a resumed run: its last attempt's).
	Encoding    string `json:"encoding"`
	SynapticOps int64  `json:"synaptic_ops"`
	// PerImageStep divides the traffic and the synaptic operations by the
	// images and the window's steps (T, or the async budget): the figures
	// encodings are compared by.
	PerImageStep PerImageStep `json:"per_image_step"`
	// PerActor is what each population sent; PerNode sums it by node;
	// Control is what the coordinator (clamps, initial states) and the
	// nodes' heartbeats sent.
	PerActor map[string]Counts `json:"per_actor"`
	PerNode  map[string]Counts `json:"per_node"`
	Control  map[string]Counts `json:"control"`
	// Missing lists the nodes whose counters could not be gathered.
	Missing []string `json:"missing_nodes,omitempty"`
	// Async sums the asynchronous runner's reports (nil in sync mode).
	Async *AsyncSummary `json:"async,omitempty"`
}

// AsyncSummary adds up the asynchronous mini-batches' reports.
type AsyncSummary struct {
	Budget int `json:"budget"`
	MaxLag int `json:"max_lag"`
	// Stopped counts the mini-batches the wall-clock bound ended.
	Stopped int `json:"batches_stopped"`
	// StateLag and ErrorLag are the version-lag histograms of the inputs
	// used (see circuit.AsyncReport), over every batch, with their means
	// and maxima.
	StateLag     map[int]int `json:"state_lag"`
	ErrorLag     map[int]int `json:"error_lag"`
	MeanStateLag float64     `json:"mean_state_lag"`
	MaxStateLag  int         `json:"max_state_lag"`
	MeanErrorLag float64     `json:"mean_error_lag"`
	MaxErrorLag  int         `json:"max_error_lag"`
	// Updates and DroppedInputs are per actor, over every batch.
	Updates       map[string]int `json:"updates_per_actor"`
	DroppedInputs map[string]int `json:"dropped_inputs_per_actor"`
}

func newAsyncSummary(r *circuit.AsyncReport) *AsyncSummary {
	return &AsyncSummary{Budget: r.Budget, MaxLag: r.MaxLag, StateLag: map[int]int{}, ErrorLag: map[int]int{},
		Updates: map[string]int{}, DroppedInputs: map[string]int{}}
}

func (a *AsyncSummary) add(r *circuit.AsyncReport) {
	if r.Stopped {
		a.Stopped++
	}
	for k, n := range r.StateLag {
		a.StateLag[k] += n
	}
	for k, n := range r.ErrorLag {
		a.ErrorLag[k] += n
	}
	for _, st := range r.Actors {
		a.Updates[st.Actor] += st.Updates
		a.DroppedInputs[st.Actor] += st.Dropped
	}
	a.MeanStateLag, a.MaxStateLag = circuit.LagSummary(a.StateLag)
	a.MeanErrorLag, a.MaxErrorLag = circuit.LagSummary(a.ErrorLag)
}

// add counts one completed mini-batch.
func (rt *Runtime) add(rec batchRecord) {
	if rec.Async != nil {
		if rt.Async == nil {
			rt.Async = newAsyncSummary(rec.Async)
		}
		rt.Async.add(rec.Async)
	}
	rt.Seconds += rec.Seconds
	rt.Batches++
	rt.Images += rec.Images
}

// gather adds up the counters of the coordinator and, when remote, of every
// worker (a failed run asks only itself: its workers may be gone).
func (rt *Runtime) gather(co *coordinator, remote bool) {
	if co.b == nil {
		return
	}
	actors := 0
	if co.s != nil {
		actors = len(co.s.Actors())
		rt.Resends = co.s.Resends()
	}
	all := []NodeStats{statsOf(co.cfg.node, actors, co.b.Stats(), co.s)}
	for _, n := range co.remote {
		if !remote || co.nc == nil {
			rt.Missing = append(rt.Missing, n)
			continue
		}
		msg, err := co.nc.Request(subject(co.cfg.run, "stats", n), nil, 2*time.Second)
		var ns NodeStats
		if err == nil {
			err = json.Unmarshal(msg.Data, &ns)
		}
		if err != nil {
			rt.Missing = append(rt.Missing, n)
			co.log.Warn("no counters from a node", "node", n, "err", err)
			continue
		}
		all = append(all, ns)
	}
	rt.sum(all, co)
	steps := co.c.Config.Steps
	if co.cfg.mode == ModeAsync && co.cfg.async.Budget > 0 {
		steps = co.cfg.async.Budget
	}
	if n := float64(rt.Images) * float64(steps); n > 0 {
		// The populations' traffic (not the coordinator's clamps nor the
		// heartbeats). A frame carries a whole mini-batch: it is one
		// message for each of its images.
		var msgs, bytes uint64
		for _, c := range rt.PerActor {
			msgs += c.Msgs
			bytes += c.Bytes
		}
		rt.PerImageStep = PerImageStep{Messages: float64(msgs) * float64(co.B) / n, Bytes: float64(bytes) / n, SynapticOps: float64(rt.SynapticOps) / n}
		if rt.Bytes > 0 {
			rt.PerImageStep.WireBytes = float64(rt.WireBytes) / float64(rt.Bytes) * float64(bytes) / n
		}
	}
}

// PerImageStep are a run's figures per image and step of the window, of
// the populations' traffic (every frame an actor sent; not the
// coordinator's clamps nor the heartbeats): messages (a frame of a B-image
// mini-batch counting B), bytes (their uncompressed wire size), bytes
// after compression where frames are serialised (the run's overall ratio
// applied), and synaptic operations.
type PerImageStep struct {
	Messages    float64 `json:"messages"`
	Bytes       float64 `json:"bytes"`
	WireBytes   float64 `json:"wire_bytes"`
	SynapticOps float64 `json:"synaptic_ops"`
}

// sum adds up the nodes' counters.
func (rt *Runtime) sum(all []NodeStats, co *coordinator) {
	names := map[string]string{}
	for ref, n := range co.assign {
		names[ref.String()] = n
	}
	rt.PerActor, rt.PerNode, rt.Control = map[string]Counts{}, map[string]Counts{}, map[string]Counts{}
	for _, ns := range all {
		rt.Messages += ns.Sent.Msgs
		rt.Bytes += ns.Sent.Bytes
		rt.WireBytes += ns.Sent.WireBytes
		rt.Deliveries += ns.Received.Msgs
		rt.Dropped += ns.Dropped
		rt.Rejected += ns.Rejected
		rt.SynapticOps += ns.SynapticOps
		if ns.Rejected > 0 {
			if rt.RejectedBy == nil {
				rt.RejectedBy = map[string]map[string]uint64{}
			}
			rt.RejectedBy[ns.Node] = rejections(ns)
		}
		for sender, c := range ns.BySender {
			node, actor := names[sender]
			dst := rt.Control
			if actor {
				dst = rt.PerActor
				pn := rt.PerNode[node]
				pn.Msgs += c.Msgs
				pn.Bytes += c.Bytes
				rt.PerNode[node] = pn
			}
			x := dst[sender]
			x.Msgs += c.Msgs
			x.Bytes += c.Bytes
			dst[sender] = x
		}
	}
	if rt.Seconds > 0 {
		rt.ImagesPerSecond = float64(rt.Images) / rt.Seconds
		rt.MessagesPerSecond = float64(rt.Messages) / rt.Seconds
		rt.BytesPerSecond = float64(rt.Bytes) / rt.Seconds
	}
}

// rejections describes a node's rejected frames by claimed sender and by
// reason: the counters are kept separately, so each is one entry.
func rejections(ns NodeStats) map[string]uint64 {
	out := map[string]uint64{}
	for s, n := range ns.RejectedBySender {
		out["from "+s] = n
	}
	for r, n := range ns.RejectedByReason {
		out["reason "+r] = n
	}
	for subj, n := range ns.RejectedBySubject {
		out["on "+subj] = n
	}
	return out
}
