package main

// Deployment: `ngc run` (the coordinator) and `ngc worker` processes meet on
// a NATS server. Besides the actors' own subjects (see package circuit), they
// use these control subjects of the run, carried as plain NATS messages with
// JSON bodies:
//
//	<run>.ctl.deploy.manifest        request/reply: a worker names its node (joinRequest),
//	                                 the coordinator answers with the manifest
//	<run>.ctl.deploy.alive           the coordinator's beacon, every aliveEvery
//	<run>.ctl.deploy.batch           the coordinator finished a mini-batch (batchNote)
//	<run>.ctl.deploy.stats.<node>    request/reply: a worker's bus counters (nodeStats)
//	<run>.ctl.deploy.failed.<node>   a worker stopped on an error or an interrupt (endNote)
//	<run>.ctl.deploy.end             the run is over, workers leave (endNote)
//
// The manifest carries everything a worker needs to build its share of the
// circuit — the graph, the parameters, the config, the placement, the task,
// the mode, the batch size and the time bound — so workers need no model
// file and can never disagree with the coordinator about the run.

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

// manifestVersion is the version of the manifest's JSON layout.
const manifestVersion = 2 // 2: Params carry the Adam state

// aliveEvery is the period of the coordinator's beacon.
const aliveEvery = 250 * time.Millisecond

// deploySubject returns "<run>.ctl.deploy.<parts...>".
func deploySubject(run string, parts ...string) string {
	return run + ".ctl.deploy." + strings.Join(parts, ".")
}

// manifest is what the coordinator hands every worker of a run.
type manifest struct {
	Version   int                `json:"version"`
	Run       string             `json:"run"`
	Mode      string             `json:"mode"`
	Task      string             `json:"task"`
	Async     asyncSettings      `json:"async"`
	Learn     bool               `json:"learn"`
	Batch     int                `json:"batch"`
	Timeout   time.Duration      `json:"timeout_ns"`
	Config    ngc.Config         `json:"config"`
	Graph     *circuit.Graph     `json:"graph"`
	Params    *circuit.Params    `json:"params"`
	Placement *circuit.Placement `json:"placement"`
	// Error, when set, is the coordinator's refusal (an unknown node name);
	// the rest is empty.
	Error string `json:"error,omitempty"`
}

// circuit returns the circuit the manifest describes.
func (m *manifest) circuit() *circuit.Circuit {
	return &circuit.Circuit{Graph: m.Graph, Params: m.Params, Config: m.Config}
}

// check reports a manifest a worker cannot use.
func (m *manifest) check() error {
	switch {
	case m.Error != "":
		return fmt.Errorf("the coordinator refused: %s", m.Error)
	case m.Version != manifestVersion:
		return fmt.Errorf("manifest version %d, this ngc speaks %d (run the same ngc build everywhere)", m.Version, manifestVersion)
	case m.Graph == nil || m.Params == nil || m.Placement == nil:
		return fmt.Errorf("manifest lacks the graph, the parameters or the placement")
	case m.Batch < 1 || m.Timeout <= 0:
		return fmt.Errorf("manifest has batch %d and timeout %v", m.Batch, m.Timeout)
	}
	return nil
}

// sessionOptions are the circuit options of the run, the same in the
// coordinator and in every worker; the caller adds Placed, Worker or TopSeed.
func (m *manifest) sessionOptions() ([]circuit.Option, error) {
	t, err := parseTask(m.Task)
	if err != nil {
		return nil, err
	}
	opts := []circuit.Option{circuit.RunID(m.Run), circuit.Task(t), circuit.Batch(m.Batch), circuit.Timeout(m.Timeout)}
	if m.Learn {
		opts = append(opts, circuit.Learn())
	}
	mo, err := modeOptions(m.Mode, m.Async)
	if err != nil {
		return nil, err
	}
	return append(opts, mo...), nil
}

// modes lists the values --mode accepts.
var modes = []string{"sync", "async"}

// asyncSettings are the knobs of the asynchronous runner (see
// circuit.AsyncConfig); the per-link delays are drawn from a seed, so every
// node derives the same ones.
type asyncSettings struct {
	Budget      int           `json:"budget"`
	MaxLag      int           `json:"max_lag"`
	WallClock   time.Duration `json:"wall_clock_ns"`
	Delay       time.Duration `json:"delay_ns"`
	DelayJitter time.Duration `json:"delay_jitter_ns"`
	DelaySeed   uint64        `json:"delay_seed"`
}

// zero reports settings left at their defaults.
func (a asyncSettings) zero() bool {
	return a.Budget == 0 && a.MaxLag == 0 && a.WallClock == 0 && a.Delay == 0 && a.DelayJitter == 0
}

// modeOptions maps a runner mode to circuit options. It is the one place
// where a mode becomes a runner, for the coordinator and the workers alike.
func modeOptions(mode string, a asyncSettings) ([]circuit.Option, error) {
	switch mode {
	case "sync":
		// Step-tagged dataflow: the circuit's default runner.
		if !a.zero() {
			return nil, fmt.Errorf("--budget, --max-lag, --wall-clock and --delay* need --mode async")
		}
		return nil, nil
	case "async":
		if a.Budget < 0 || a.MaxLag < 0 || a.WallClock < 0 || a.Delay < 0 || a.DelayJitter < 0 {
			return nil, fmt.Errorf("--budget, --max-lag, --wall-clock and --delay* must not be negative")
		}
		cfg := circuit.AsyncConfig{Budget: a.Budget, MaxLag: a.MaxLag, WallClock: a.WallClock}
		if a.Delay > 0 || a.DelayJitter > 0 {
			cfg.Delay = circuit.LinkDelay(a.Delay, a.DelayJitter, a.DelaySeed)
		}
		return []circuit.Option{circuit.Async(cfg)}, nil
	}
	return nil, fmt.Errorf("--mode %q: want %s", mode, strings.Join(modes, " or "))
}

// parseTask reads --task.
func parseTask(s string) (ngc.Task, error) {
	switch s {
	case "recon", "reconstruct", "reconstruction":
		return ngc.Reconstruct, nil
	case "denoise", "denoising":
		return ngc.Denoise, nil
	}
	return 0, fmt.Errorf("--task %q (want recon or denoise)", s)
}

// joinRequest is a worker's request for the manifest. Instance tells
// processes apart ("host pid N"), so a second worker for one node is
// refused while a repeated request of the same worker is answered again.
type joinRequest struct {
	Node     string `json:"node"`
	Instance string `json:"instance"`
}

// batchNote announces a finished mini-batch to the workers.
type batchNote struct {
	Batch   int     `json:"batch"` // 1-based
	Of      int     `json:"of"`    // batches in the run
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
}

// endNote ends a run (from the coordinator) or reports a worker's failure.
type endNote struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// nodeStats is a process's share of the run's traffic: what its bus
// connection sent and received.
type nodeStats struct {
	Node     string                `json:"node"`
	Actors   int                   `json:"actors"`
	Sent     bus.Counts            `json:"sent"`
	Received bus.Counts            `json:"received"`
	BySender map[string]bus.Counts `json:"sent_by_sender"`
	Dropped  uint64                `json:"dropped"`
	Rejected uint64                `json:"rejected"`
}

func statsOf(node string, actors int, st bus.Stats) nodeStats {
	return nodeStats{Node: node, Actors: actors, Sent: st.Sent, Received: st.Received, BySender: st.SentBySender,
		Dropped: st.Dropped, Rejected: st.Rejected}
}

// busFlags are the NATS connection's credentials and TLS files.
type busFlags struct {
	token, user, password, creds string
	tlsCA, tlsCert, tlsKey       string
}

func (bf *busFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&bf.token, "token", "", "authenticate to the NATS server with this token (with --bus embedded: the token the server requires)")
	fs.StringVar(&bf.user, "user", "", "authenticate with this user name (and --password)")
	fs.StringVar(&bf.password, "password", "", "password of --user")
	fs.StringVar(&bf.creds, "creds", "", "authenticate with this NATS credentials file (JWT and NKey seed)")
	fs.StringVar(&bf.tlsCA, "tls-ca", "", "trust these PEM CA certificates to verify the server (enables TLS)")
	fs.StringVar(&bf.tlsCert, "tls-cert", "", "present this PEM client certificate to the server (with --tls-key; enables TLS)")
	fs.StringVar(&bf.tlsKey, "tls-key", "", "PEM key of --tls-cert")
}

// options returns the bus options of the flags, named and reporting
// asynchronous bus errors to onErr.
func (bf *busFlags) options(name string, onErr func(error)) ([]bus.Option, error) {
	opts := []bus.Option{bus.WithName(name), bus.WithErrorHandler(onErr)}
	if bf.token != "" {
		opts = append(opts, bus.WithToken(bf.token))
	}
	switch {
	case bf.password != "" && bf.user == "":
		return nil, fmt.Errorf("--password needs --user")
	case bf.user != "":
		opts = append(opts, bus.WithUserInfo(bf.user, bf.password))
	}
	if bf.creds != "" {
		opts = append(opts, bus.WithCredentials(bf.creds))
	}
	if bf.tlsCA != "" {
		opts = append(opts, bus.WithRootCAs(bf.tlsCA))
	}
	switch {
	case (bf.tlsCert == "") != (bf.tlsKey == ""):
		return nil, fmt.Errorf("--tls-cert and --tls-key go together")
	case bf.tlsCert != "":
		opts = append(opts, bus.WithClientCert(bf.tlsCert, bf.tlsKey))
	}
	return opts, nil
}

// given reports whether a connection flag was given.
func (bf *busFlags) given() bool {
	return bf.token != "" || bf.user != "" || bf.password != "" || bf.creds != "" || bf.tlsCA != "" || bf.tlsCert != "" || bf.tlsKey != ""
}

// errorLog writes a bus's asynchronous errors (slow consumers, rejected
// frames, lost connections) to w, the first limit of them; Suppressed
// counts the rest.
type errorLog struct {
	mu         sync.Mutex
	w          io.Writer
	prefix     string
	limit, n   int
	suppressed int
	muted      bool
}

func (l *errorLog) report(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.muted {
		return
	}
	l.n++
	if l.n > l.limit {
		l.suppressed++
		return
	}
	fmt.Fprintf(l.w, "%s%v\n", l.prefix, err)
}

// mute drops later errors: the process is leaving, and the connection's
// end is no news.
func (l *errorLog) mute() {
	l.mu.Lock()
	l.muted = true
	l.mu.Unlock()
}

// Suppressed returns how many errors were not printed.
func (l *errorLog) Suppressed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.suppressed
}

// encodeJSON is json.Marshal for the control messages, whose types always
// encode.
func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only channels, functions or cyclic values fail, and none of the
		// control types holds one.
		return []byte(`{}`)
	}
	return b
}

// humanBytes formats a byte count with a binary unit.
func humanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	u := 0
	for n >= 1024 && u < len(units)-1 {
		n /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[u])
}

// summarize lists populations compactly: "z.1.*" for every map of a layer,
// "e.2.{0,3,4}" for some.
func summarize(g *circuit.Graph, refs []neuron.Ref) string {
	type key struct {
		role  neuron.Role
		layer int
	}
	var order []key
	groups := map[key][]string{}
	for _, r := range refs {
		k := key{r.Role, r.Layer}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], fmt.Sprint(r.Index))
	}
	var out []string
	for _, k := range order {
		name := roleName(k.role)
		idx := groups[k]
		switch {
		case k.layer < len(g.Layers) && len(idx) == g.Layers[k.layer].Maps:
			out = append(out, fmt.Sprintf("%s.%d.*", name, k.layer))
		case len(idx) == 1:
			out = append(out, fmt.Sprintf("%s.%d.%s", name, k.layer, idx[0]))
		default:
			out = append(out, fmt.Sprintf("%s.%d.{%s}", name, k.layer, strings.Join(idx, ",")))
		}
	}
	return strings.Join(out, " ")
}

func roleName(r neuron.Role) string {
	if r == neuron.ErrorRole {
		return "e"
	}
	return "z"
}
