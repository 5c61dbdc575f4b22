package experiment

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/convngc/convngc/ngc/report"
)

// View shows a run's events to a person: one line per trial done or
// reused, and between them a progress bar (none when quiet) from the
// first event on. Its Event method is an Options.Events function. It is
// not safe for concurrent use; Run calls Events from one goroutine.
type View struct {
	w     io.Writer
	start time.Time
	quiet bool
	bar   *report.Progress // nil until the first event, or quiet
}

// NewView returns a view writing to w (usually os.Stderr), timing from
// start.
func NewView(w io.Writer, quiet bool, start time.Time) *View {
	return &View{w: w, start: start, quiet: quiet}
}

// Event shows ev.
func (v *View) Event(ev Event) {
	switch ev.Stage {
	case "reuse", "done":
		v.bar.Clear()
		fmt.Fprintf(v.w, "[%d/%d %s] %s %s: %s\n", ev.Job, ev.Jobs, time.Since(v.start).Round(time.Second),
			ev.Name, map[string]string{"reuse": "reused", "done": "done"}[ev.Stage], ev.Message)
		v.bar.Set(ev.Job, ev.Name)
		return
	}
	if v.bar == nil && !v.quiet {
		v.bar = report.NewProgress(v.w, false, ev.Jobs, "experiment")
	}
	d := ev.Name + " " + ev.Stage
	if ev.Stage == "eval" {
		d += " " + ev.Message
	}
	if ev.Total > 0 {
		d += fmt.Sprintf(" %d/%d", ev.Done, ev.Total)
	}
	v.bar.Set(ev.Job-1, d)
}

// Done ends the progress bar.
func (v *View) Done() { v.bar.Done() }

// ParsePairs reads table 2b's pairs, FROM:TO each (ParsePair).
func ParsePairs(ss []string) ([]Pair, error) {
	var pairs []Pair
	for _, s := range ss {
		p, err := ParsePair(s)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, p)
	}
	return pairs, nil
}

// Complete returns p with its shorthands spelt out, ready for Validate:
// the tables ["all"] become every table (TableNames), and the fully
// connected NGC runs the window T of Conv-NGC.
func (p Protocol) Complete() Protocol {
	if len(p.Tables) == 1 && p.Tables[0] == "all" {
		p.Tables = TableNames()
	}
	p.FC.Steps = p.ConvNGC.Steps
	return p
}

// Describe says what a run of r did in elapsed: the trials, the models
// trained, the evaluations computed and the trials reused; the stored
// trials of other protocols it ignored in dir, if any; and where its
// outputs are. One line each.
func (r *Results) Describe(dir string, elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "trials: %d (trained %d models, computed %d evaluations, reused %d stored trials) in %s\n",
		len(r.Trials), r.Trained, r.Evaluated, r.Reused, elapsed.Round(time.Second))
	if r.Ignored > 0 {
		fmt.Fprintf(&b, "ignored %d stored trial files of other protocols in %s/trials\n", r.Ignored, dir)
	}
	fmt.Fprintf(&b, "outputs in %s: %s\n", dir, strings.Join(r.Files, ", "))
	return b.String()
}
