package report

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// LineEvery is the interval between a Progress's plain lines off a
// terminal.
const LineEvery = 30 * time.Second

// Progress shows a person how far long work has come: a redrawn bar when
// it writes to a terminal; elsewhere (a log file, a pipe) one plain line
// ("desc: n/total (elapsed)") at most every LineEvery and a last one when
// the work is done, so that logs hold no carriage-return redraws. A quiet
// Progress shows nothing. The zero value and a nil *Progress are quiet. It
// is not safe for concurrent use.
type Progress struct {
	bar   *progressbar.ProgressBar
	lines io.Writer // set off a terminal
	desc  string
	total int
	n     int
	last  time.Time
	start time.Time
}

// NewProgress returns a Progress of total units of work described by desc,
// writing to w (usually os.Stderr); quiet shows nothing.
func NewProgress(w io.Writer, quiet bool, total int, desc string) *Progress {
	if quiet {
		return &Progress{}
	}
	if !IsTerminal(w) {
		now := time.Now()
		return &Progress{lines: w, desc: desc, total: total, start: now, last: now}
	}
	return &Progress{total: total, bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionShowElapsedTimeOnFinish(),
	)}
}

// IsTerminal says whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Set says that n units are done; a non-empty desc replaces the
// description.
func (p *Progress) Set(n int, desc string) {
	if p == nil {
		return
	}
	if desc != "" {
		p.desc = desc
	}
	p.n = n
	switch {
	case p.bar != nil:
		if desc != "" {
			p.bar.Describe(desc)
		}
		_ = p.bar.Set(n)
	case p.lines != nil && time.Since(p.last) >= LineEvery:
		p.line()
	}
}

// SetTotal changes the units of work to total.
func (p *Progress) SetTotal(total int) {
	if p == nil || p.total == total {
		return
	}
	p.total = total
	if p.bar != nil {
		p.bar.ChangeMax(total)
	}
}

// line prints the progress as one plain line.
func (p *Progress) line() {
	p.last = time.Now()
	fmt.Fprintf(p.lines, "%s: %d/%d (%s elapsed)\n", p.desc, p.n, p.total, time.Since(p.start).Round(time.Second))
}

// Clear erases the bar so that a log line can be printed; the next Set
// draws it again.
func (p *Progress) Clear() {
	if p != nil && p.bar != nil {
		_ = p.bar.Clear()
	}
}

// Done finishes the bar, or prints the last line.
func (p *Progress) Done() {
	switch {
	case p == nil:
	case p.bar != nil:
		_ = p.bar.Finish()
	case p.lines != nil && p.n > 0:
		p.line()
	}
}
