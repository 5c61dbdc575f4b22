package deploy

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// Ops is what a coordinator or a worker process keeps beside its runs: its
// logger, the error log of its bus (the first 5 errors in full) and its
// Prometheus metrics, served on an address when it is given one.
type Ops struct {
	Logger  *slog.Logger
	Errors  *ErrorLog
	Metrics *Metrics
	stop    func()
}

// StartOps returns the Ops of a process logging to log and, when
// metricsAddr is not empty, serves their metrics there (Metrics.Serve)
// until Close.
func StartOps(log *slog.Logger, metricsAddr string) (*Ops, error) {
	o := &Ops{Logger: log, Errors: NewErrorLog(log, 5), Metrics: NewMetrics(), stop: func() {}}
	if metricsAddr != "" {
		stop, err := o.Metrics.Serve(metricsAddr, log)
		if err != nil {
			return nil, err
		}
		o.stop = stop
	}
	return o, nil
}

// Close stops serving the metrics. (The error log is closed, when the
// bus's errors are no news any more, with Errors.Close.)
func (o *Ops) Close() { o.stop() }

// Session is a coordinator process's run as `ngc run` makes it: the run
// Settings describe on an opened bus, with the process's Ops, after its
// dense reference when there is one.
type Session struct {
	Settings
	// Bus is the bus the run goes on (OpenBus); Session does not close it.
	Bus *OpenedBus
	// Ops are the process's logger, bus error log and metrics.
	Ops *Ops
	// Dense, when the encoding is not dense, first runs the same images
	// with dense messages in this process (traffic and operations do not
	// depend on the placement): the reference Report.Document compares the
	// run with.
	Dense bool
	// Progress, when not nil, is called before each run with its name
	// ("run (dense)" for the reference, "run") and returns the run's
	// progress function (WithProgress) and a function called when the run
	// ends.
	Progress func(name string) (progress func(Progress), done func())
}

// Run makes the reference run (when there is one) and the run of m over
// set, and closes the error log. A failed run returns its partial report
// (see Run) beside the reference's.
func (s *Session) Run(ctx context.Context, m *ngc.Model, set *data.Set) (rep, dense *Report, err error) {
	if s.Dense && s.Encoding.Scheme != neuron.Dense {
		progress, done := s.progress("run (dense)")
		if dense, err = Run(ctx, m, set, s.Reference(WithLogger(s.Ops.Logger), WithProgress(progress))...); err != nil {
			return nil, nil, fmt.Errorf("the dense reference run: %w", err)
		}
		done()
	}
	progress, done := s.progress("run")
	rep, err = Run(ctx, m, set, s.Options(WithBus(s.Bus.Bus), WithMetrics(s.Ops.Metrics), WithLogger(s.Ops.Logger),
		WithProgress(progress))...)
	done()
	s.Ops.Errors.Close()
	if rep != nil {
		rep.Runtime.Bus = s.Bus.Kind
	}
	return rep, dense, err
}

// progress returns the progress function and the end of the run name.
func (s *Session) progress(name string) (func(Progress), func()) {
	if s.Progress == nil {
		return func(Progress) {}, func() {}
	}
	return s.Progress(name)
}
