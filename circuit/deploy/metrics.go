package deploy

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
)

// Metrics are the Prometheus metrics of a coordinator or a worker process,
// in its own registry (with the Go runtime's and the process's collectors).
// Run and Work given WithMetrics keep them current; Handler serves them.
// Every metric carries the node's name as the label "node"; bus counters
// are read from the bus at scrape time.
//
//	ngc_frames_sent_total{kind}, ngc_bytes_sent_total{kind}          frames (and their header+payload bytes) published
//	ngc_frames_received_total{kind}, ngc_bytes_received_total{kind}  frames handed to handlers
//	ngc_frames_dropped_total                                          frames lost to full queues
//	ngc_frames_rejected_total{reason}, ngc_frames_rejected_by_sender_total{sender}
//	ngc_steps_total                                                   coordinator: circuit steps completed (rate: steps/s)
//	ngc_node_steps_total                                              steps this node's error maps computed, mean over them
//	ngc_batch, ngc_batches, ngc_step, ngc_steps                       progress: batch b of B, step t of T
//	ngc_images_total                                                  images done
//	ngc_resend_rounds_total                                           stalled mini-batches repaired by a resend round
//	ngc_energy{layer}                                                 last batch's final energy per image, by layer
//	ngc_input_lag{role}                                               histogram of the async input lag (versions)
//	ngc_heartbeat_age_seconds{peer}                                   coordinator: time since each node's heartbeat
type Metrics struct {
	reg *prometheus.Registry

	steps    *prometheus.CounterVec
	batch    *prometheus.GaugeVec
	batches  *prometheus.GaugeVec
	step     *prometheus.GaugeVec
	stepsPer *prometheus.GaugeVec
	images   *prometheus.CounterVec
	energy   *prometheus.GaugeVec
	lag      *prometheus.HistogramVec
	resends  *prometheus.CounterVec

	mu       sync.Mutex
	node     string
	b        bus.Bus
	sess     *circuit.Session
	lastStep int
}

// NewMetrics returns a fresh set of metrics in their own registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, append([]string{"node"}, labels...))
	}
	m.steps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ngc_steps_total", Help: "Circuit steps completed (all error maps reported)."}, []string{"node"})
	m.images = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ngc_images_total", Help: "Images whose mini-batch is complete."}, []string{"node"})
	m.batch = gauge("ngc_batch", "Mini-batch in flight (1-based).")
	m.batches = gauge("ngc_batches", "Mini-batches in the run.")
	m.step = gauge("ngc_step", "Step of the mini-batch in flight.")
	m.stepsPer = gauge("ngc_steps", "Steps per mini-batch (T, or the async budget).")
	m.energy = gauge("ngc_energy", "Final energy per image of the last mini-batch, by layer.", "layer")
	m.resends = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ngc_resend_rounds_total", Help: "Stalled mini-batches repaired by a resend round."}, []string{"node"})
	m.lag = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ngc_input_lag", Help: "Version lag of the inputs async actors used.",
		Buckets: []float64{0, 1, 2, 3, 5, 8, 13, 21, 34, 55}}, []string{"node", "role"})
	m.reg.MustRegister(m.steps, m.images, m.resends, m.batch, m.batches, m.step, m.stepsPer, m.energy, m.lag, (*busCollector)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the metrics' registry, for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// watch makes the bus counters and the session's heartbeats visible.
func (m *Metrics) watch(node string, b bus.Bus, s *circuit.Session) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.node, m.b, m.sess = node, b, s
	m.mu.Unlock()
}

// step records that step t of batch b is complete.
func (m *Metrics) stepDone(node string, b, t, of, batches int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	n := t - m.lastStep
	if n < 0 {
		n = t
	}
	m.lastStep = t
	if t >= of {
		m.lastStep = 0
	}
	m.mu.Unlock()
	m.steps.WithLabelValues(node).Add(float64(n))
	m.batch.WithLabelValues(node).Set(float64(b))
	m.batches.WithLabelValues(node).Set(float64(batches))
	m.step.WithLabelValues(node).Set(float64(t))
	m.stepsPer.WithLabelValues(node).Set(float64(of))
}

// batchNoted records, at a worker, the coordinator's note of a finished
// mini-batch.
func (m *Metrics) batchNoted(node string, n BatchNote) {
	if m == nil {
		return
	}
	m.batch.WithLabelValues(node).Set(float64(n.Batch))
	m.batches.WithLabelValues(node).Set(float64(n.Of))
	m.images.WithLabelValues(node).Add(float64(n.Images))
}

// resent counts a resend round.
func (m *Metrics) resent(node string) {
	if m != nil {
		m.resends.WithLabelValues(node).Inc()
	}
}

// imagesDone counts images whose mini-batch is complete.
func (m *Metrics) imagesDone(node string, n int) {
	if m != nil {
		m.images.WithLabelValues(node).Add(float64(n))
	}
}

// batchDone records a completed mini-batch at the coordinator.
func (m *Metrics) batchDone(co *coordinator, rec batchRecord, _ float64) {
	if m == nil {
		return
	}
	node := co.cfg.node
	m.imagesDone(node, rec.Images)
	for l, v := range rec.Trace.Final {
		m.energy.WithLabelValues(node, strconv.Itoa(l)).Set(v)
	}
	if a := rec.Async; a != nil {
		for role, h := range map[string]map[int]int{"state": a.StateLag, "error": a.ErrorLag} {
			o := m.lag.WithLabelValues(node, role)
			for lag, n := range h {
				for range min(n, 1<<16) { // bounded: the histogram is a sample
					o.Observe(float64(lag))
				}
			}
		}
	}
}

// busCollector reads the bus counters and heartbeat ages at scrape time.
type busCollector Metrics

var (
	descFramesSent  = prometheus.NewDesc("ngc_frames_sent_total", "Frames published, by kind.", []string{"node", "kind"}, nil)
	descBytesSent   = prometheus.NewDesc("ngc_bytes_sent_total", "Bytes (header + 4 per float) published, by kind.", []string{"node", "kind"}, nil)
	descFramesRecv  = prometheus.NewDesc("ngc_frames_received_total", "Frames handed to handlers, by kind.", []string{"node", "kind"}, nil)
	descBytesRecv   = prometheus.NewDesc("ngc_bytes_received_total", "Bytes handed to handlers, by kind.", []string{"node", "kind"}, nil)
	descDropped     = prometheus.NewDesc("ngc_frames_dropped_total", "Frames lost to full subscription queues.", []string{"node"}, nil)
	descRejected    = prometheus.NewDesc("ngc_frames_rejected_total", "Frames rejected by the decoder, by reason.", []string{"node", "reason"}, nil)
	descRejectedBy  = prometheus.NewDesc("ngc_frames_rejected_by_sender_total", "Frames rejected by the decoder, by the sender they claimed.", []string{"node", "sender"}, nil)
	descNodeSteps   = prometheus.NewDesc("ngc_node_steps_total", "Steps this node's error maps computed (one error each per sync step or async firing), mean over them.", []string{"node"}, nil)
	descHeartbeatAg = prometheus.NewDesc("ngc_heartbeat_age_seconds", "Time since the coordinator last heard a node's heartbeat.", []string{"node", "peer"}, nil)
)

func (c *busCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFramesSent, descBytesSent, descFramesRecv, descBytesRecv, descDropped, descRejected, descRejectedBy, descNodeSteps, descHeartbeatAg} {
		ch <- d
	}
}

func (c *busCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	node, b, s := c.node, c.b, c.sess
	c.mu.Unlock()
	if b == nil {
		return
	}
	st := b.Stats()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{node}, labels...)...)
	}
	for k, n := range st.SentByKind {
		counter(descFramesSent, float64(n.Msgs), k.String())
		counter(descBytesSent, float64(n.Bytes), k.String())
	}
	for k, n := range st.ReceivedByKind {
		counter(descFramesRecv, float64(n.Msgs), k.String())
		counter(descBytesRecv, float64(n.Bytes), k.String())
	}
	counter(descDropped, float64(st.Dropped))
	for r, n := range st.RejectedByReason {
		counter(descRejected, float64(n), r)
	}
	for snd, n := range st.RejectedBySender {
		counter(descRejectedBy, float64(n), snd)
	}
	if s != nil {
		if steps, maps := s.Steps(); maps > 0 {
			counter(descNodeSteps, steps)
		}
		now := time.Now()
		for peer, t := range s.Heartbeats() {
			ch <- prometheus.MustNewConstMetric(descHeartbeatAg, prometheus.GaugeValue, now.Sub(t).Seconds(), node, peer)
		}
	}
}
