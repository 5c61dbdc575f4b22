package deploy

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

// ManifestVersion is the version of the Manifest's JSON layout. A worker
// refuses a manifest of another version (run the same build everywhere).
const ManifestVersion = 3 // 2: Params carry the Adam state; 3: the encoding

// Bounds of a manifest a worker accepts: a map message must fit a frame
// (bus.Limits caps payloads below 2 GiB), and no circuit has more maps.
const (
	maxMapFloats = 1 << 29
	maxMaps      = 1 << 16
)

// Manifest is what the coordinator hands every worker of a run: everything
// a worker needs to build its share of the circuit.
type Manifest struct {
	Version   int                `json:"version"`
	Run       string             `json:"run"`
	Mode      string             `json:"mode"` // "sync" or "async"
	Task      string             `json:"task"` // "recon" or "denoise"
	Async     AsyncSettings      `json:"async"`
	Learn     bool               `json:"learn"`
	Batch     int                `json:"batch"`
	Timeout   time.Duration      `json:"timeout_ns"`
	Config    ngc.Config         `json:"config"`
	Graph     *circuit.Graph     `json:"graph"`
	Params    *circuit.Params    `json:"params"`
	Placement *circuit.Placement `json:"placement"`
	// Encoding is how the populations' map messages travel.
	Encoding neuron.Encoding `json:"encoding"`
	// Coordinator is the serving coordinator's instance ("host H pid N").
	Coordinator string `json:"coordinator,omitempty"`
	// Error, when set, is the coordinator's refusal (an unknown node name, a
	// node already joined); the rest is empty.
	Error string `json:"error,omitempty"`
}

// DecodeManifest reads a manifest and checks that a worker can use it: a
// refusal, another version, missing parts or bad sizes are errors
// (ErrRefused for a refusal, ErrManifest otherwise).
func DecodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// check reports a manifest a worker cannot use.
func (m *Manifest) check() error {
	switch {
	case m.Error != "":
		return fmt.Errorf("%w: %s", ErrRefused, m.Error)
	case m.Version != ManifestVersion:
		return fmt.Errorf("%w: version %d, this build speaks %d (run the same ngc build everywhere)", ErrManifest, m.Version, ManifestVersion)
	case m.Graph == nil || m.Params == nil || m.Placement == nil:
		return fmt.Errorf("%w: it lacks the graph, the parameters or the placement", ErrManifest)
	case m.Batch < 1 || m.Timeout <= 0:
		return fmt.Errorf("%w: batch %d and timeout %v", ErrManifest, m.Batch, m.Timeout)
	}
	if err := m.Circuit().Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrManifest, err)
	}
	// Every map message is one frame: bound what a manifest can make a
	// worker allocate by what a frame can carry.
	for l, ly := range m.Graph.Layers {
		if m.Batch > maxMapFloats || ly.Size > 1<<15 {
			return fmt.Errorf("%w: batch %d, layer %d of %d×%d pixels", ErrManifest, m.Batch, l, ly.Size, ly.Size)
		}
		if floats := int64(m.Batch) * int64(ly.Size) * int64(ly.Size); floats > maxMapFloats || ly.Maps > maxMaps {
			return fmt.Errorf("%w: layer %d has %d maps of %d floats per mini-batch (at most %d maps of %d floats)", ErrManifest, l, ly.Maps, floats, maxMaps, maxMapFloats)
		}
	}
	if _, err := m.Config.Resolve(); err != nil {
		return fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if _, err := m.Placement.Assign(m.Graph); err != nil {
		return fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if _, err := m.sessionOptions(); err != nil {
		return fmt.Errorf("%w: %v", ErrManifest, err)
	}
	return nil
}

// Circuit returns the circuit the manifest describes.
func (m *Manifest) Circuit() *circuit.Circuit {
	return &circuit.Circuit{Graph: m.Graph, Params: m.Params, Config: m.Config, Encoding: m.Encoding}
}

// sessionOptions are the circuit options of the run, the same in the
// coordinator and in every worker; the caller adds Placed, Worker or TopSeed.
func (m *Manifest) sessionOptions() ([]circuit.Option, error) {
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

// AsyncSettings are the knobs of the asynchronous runner (see
// circuit.AsyncConfig). The per-link delays are drawn from DelaySeed, so
// every node derives the same ones. The zero value runs with the defaults.
type AsyncSettings struct {
	// Budget is the corrections per state map and mini-batch (0: T).
	Budget int `json:"budget"`
	// MaxLag bounds the versions of staleness of the inputs a state map
	// corrects with (0: no bound).
	MaxLag int `json:"max_lag"`
	// WallClock ends a mini-batch's corrections after this long (0: none).
	WallClock time.Duration `json:"wall_clock_ns"`
	// Delay holds every message this long at its receiver, plus a fixed
	// share of DelayJitter drawn per link from DelaySeed: an injected link
	// latency. Unlike the other settings it applies in sync mode too.
	// DelaySeed 0 takes the run's seed.
	Delay       time.Duration `json:"delay_ns"`
	DelayJitter time.Duration `json:"delay_jitter_ns"`
	DelaySeed   uint64        `json:"delay_seed"`
	// FireOnArrival makes state maps correct on any arrival instead of when
	// their own error advances (see circuit.AsyncConfig).
	FireOnArrival bool `json:"fire_on_arrival,omitempty"`
}

// zero reports settings left at their defaults.
func (a AsyncSettings) zero() bool {
	return a.Budget == 0 && a.MaxLag == 0 && a.WallClock == 0 && a.Delay == 0 && a.DelayJitter == 0 && !a.FireOnArrival
}

// Mode names.
const (
	ModeSync  = "sync"
	ModeAsync = "async"
)

// modeOptions maps a runner mode to circuit options. It is the one place
// where a mode becomes a runner, for the coordinator and the workers alike.
func modeOptions(mode string, a AsyncSettings) ([]circuit.Option, error) {
	switch mode {
	case ModeSync:
		// Step-tagged dataflow: the circuit's default runner. Link delays
		// apply in both modes.
		if a.Delay < 0 || a.DelayJitter < 0 {
			return nil, fmt.Errorf("--delay and --delay-jitter must not be negative")
		}
		if a.Budget != 0 || a.MaxLag != 0 || a.WallClock != 0 || a.FireOnArrival {
			return nil, fmt.Errorf("--budget, --max-lag, --wall-clock and --fire need --mode async")
		}
		if a.Delay > 0 || a.DelayJitter > 0 {
			return []circuit.Option{circuit.Delay(circuit.LinkDelay(a.Delay, a.DelayJitter, a.DelaySeed))}, nil
		}
		return nil, nil
	case ModeAsync:
		if a.Budget < 0 || a.MaxLag < 0 || a.WallClock < 0 || a.Delay < 0 || a.DelayJitter < 0 {
			return nil, fmt.Errorf("--budget, --max-lag, --wall-clock and --delay* must not be negative")
		}
		cfg := circuit.AsyncConfig{Budget: a.Budget, MaxLag: a.MaxLag, WallClock: a.WallClock, FireOnArrival: a.FireOnArrival}
		if a.Delay > 0 || a.DelayJitter > 0 {
			cfg.Delay = circuit.LinkDelay(a.Delay, a.DelayJitter, a.DelaySeed)
		}
		return []circuit.Option{circuit.Async(cfg)}, nil
	}
	return nil, fmt.Errorf("--mode %q: want sync or async", mode)
}

// encodingName is the journal's name of an encoding: empty for dense, so
// that journals written before encodings existed still match.
func encodingName(e neuron.Encoding) string {
	if e.Scheme == neuron.Dense {
		return ""
	}
	return e.String()
}

// taskName is the manifest's name of a task.
func taskName(t ngc.Task) string {
	if t == ngc.Denoise {
		return "denoise"
	}
	return "recon"
}

func parseTask(s string) (ngc.Task, error) {
	switch s {
	case "recon":
		return ngc.Reconstruct, nil
	case "denoise":
		return ngc.Denoise, nil
	}
	return 0, fmt.Errorf("task %q (want recon or denoise)", s)
}
