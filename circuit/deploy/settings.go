package deploy

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// Settings are a coordinator's run in plain values, as a command line or a
// configuration file gives them (ngc run's flags bind to them). Options
// turns them into Run's options; Reference into those of the same run with
// dense messages in this process, the reference a sigma-delta run is
// compared with.
type Settings struct {
	// RunID, Node, Placement, JoinTimeout, Journal and Resume place the run:
	// WithRunID, WithNode, WithPlacement (nil: every population on Node),
	// WithJoinTimeout, WithJournal ("" none) and WithResume.
	RunID, Node string
	Placement   *circuit.Placement
	JoinTimeout time.Duration
	Journal     string
	Resume      bool
	// Batch, Seed and Timeout are WithBatch, WithSeed and WithTimeout.
	Batch   int
	Seed    uint64
	Timeout time.Duration
	// Mode is ModeSync or ModeAsync. Async holds the async settings
	// (WithAsync); its Delay and DelayJitter inject link latency in sync
	// mode too (WithLinkDelay), and its DelaySeed is always Seed.
	Mode  string
	Async AsyncSettings
	// Task ngc.Denoise corrupts the images with noise of standard deviation
	// NoiseStd, clipped to [0,1] unless NoClip (WithDenoise).
	Task     ngc.Task
	NoiseStd float64
	NoClip   bool
	// Learn trains over Epochs passes (WithLearning).
	Learn  bool
	Epochs int
	// Validation, when set, is measured every ValidateEvery mini-batches
	// of a learning run (WithValidation).
	Validation    *data.Set
	ValidateEvery int
	// Encoding is the map messages' encoding (WithEncoding).
	Encoding neuron.Encoding
}

// Options returns the run's options; extra (a bus, a logger, metrics, a
// progress function) follow them.
func (s Settings) Options(extra ...Option) []Option {
	opts := []Option{WithRunID(s.RunID), WithNode(s.Node), WithPlacement(s.Placement), WithJoinTimeout(s.JoinTimeout),
		WithJournal(s.Journal), WithEncoding(s.Encoding)}
	if s.Resume {
		opts = append(opts, WithResume())
	}
	return append(append(opts, s.Reference()...), extra...)
}

// Reference returns the options the run shares with its dense reference,
// which runs in this process on a private in-process bus, unjournalled:
// the batches and seed, the timeout, the mode and its settings, the task,
// learning and validation.
func (s Settings) Reference(extra ...Option) []Option {
	opts := []Option{WithBatch(s.Batch), WithSeed(s.Seed), WithTimeout(s.Timeout)}
	as := s.Async
	as.DelaySeed = s.Seed
	switch {
	case s.Mode == ModeAsync:
		opts = append(opts, WithAsync(as))
	case as.Delay > 0 || as.DelayJitter > 0:
		opts = append(opts, WithLinkDelay(as.Delay, as.DelayJitter))
	}
	if s.Task == ngc.Denoise {
		opts = append(opts, WithDenoise(s.NoiseStd, !s.NoClip))
	}
	if s.Learn {
		opts = append(opts, WithLearning(s.Epochs))
	}
	if s.Validation != nil {
		opts = append(opts, WithValidation(s.Validation, s.ValidateEvery))
	}
	return append(opts, extra...)
}

// Fire names the async firing rule: "arrival" (FireOnArrival) or
// "own-error".
func (a AsyncSettings) Fire() string {
	if a.FireOnArrival {
		return "arrival"
	}
	return "own-error"
}

// Document is the run's JSON report: the report r of a run made with s
// (partial when runErr is not nil, with status "failed" and the error) and,
// when dense is not nil, its dense reference's under "dense". The caller
// adds what s does not know: the command, the model's file, the data set
// and the split.
func (r *Report) Document(s Settings, runErr error, dense *Report) map[string]any {
	status, msg := "ok", ""
	if runErr != nil {
		status, msg = "failed", runErr.Error()
	}
	var async any
	if s.Mode == ModeAsync {
		as := s.Async
		async = map[string]any{"budget": as.Budget, "max_lag": as.MaxLag, "wall_clock": as.WallClock.String(),
			"delay": as.Delay.String(), "delay_jitter": as.DelayJitter.String(), "fire": as.Fire()}
	}
	doc := map[string]any{
		"mode": s.Mode, "async": async, "bus": r.Runtime.Bus, "run": s.RunID, "placement": r.Placement,
		"batch": r.Batch, "steps": r.Steps, "learn": s.Learn, "noise_std": s.NoiseStd, "clip": !s.NoClip, "seed": s.Seed,
		"result": r.Result, "runtime": r.Runtime, "status": status, "error": msg, "batches_done": r.Batches,
		"batches": r.Of, "batches_resumed": r.Resumed, "journal": r.Journal,
		"encoding": r.Runtime.Encoding, "comparison": CompareOf(r), "curve": r.Curve,
	}
	if dense != nil {
		doc["dense"] = map[string]any{"comparison": CompareOf(dense), "result": dense.Result, "runtime": dense.Runtime, "curve": dense.Curve}
	}
	return doc
}

// Paths returns where a run of the model file writes what it is not told
// to write elsewhere: the JSON report (report, default <model>-run.json),
// the journal (journal, default <report>.journal) and, when learning, the
// trained model (save, default <model>-run.safetensors; "" when not
// learning and not given).
func Paths(model, report, journal, save string, learn bool) (string, string, string) {
	stem := strings.TrimSuffix(model, filepath.Ext(model))
	if report == "" {
		report = stem + "-run.json"
	}
	if journal == "" {
		journal = strings.TrimSuffix(report, filepath.Ext(report)) + ".journal"
	}
	if learn && save == "" {
		save = stem + "-run.safetensors"
	}
	return report, journal, save
}

// NewLogger returns a logger writing to w in format "text" (key=value) or
// "json", with attrs on every line.
func NewLogger(w io.Writer, format string, attrs ...any) (*slog.Logger, error) {
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, nil)
	case "json":
		h = slog.NewJSONHandler(w, nil)
	default:
		return nil, fmt.Errorf("%w: log format %q: want text or json", ErrConfig, format)
	}
	return slog.New(h).With(attrs...), nil
}
