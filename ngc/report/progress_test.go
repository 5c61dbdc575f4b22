package report

import (
	"bytes"
	"testing"
)

// TestProgressLines: off a terminal, a Progress writes plain lines (here
// only the last, as the work takes less than LineEvery); quiet and nil
// ones write nothing.
func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false, 10, "training")
	p.Set(3, "")
	p.SetTotal(12)
	p.Set(12, "epoch 2")
	p.Clear()
	p.Done()
	if got := b.String(); got != "epoch 2: 12/12 (0s elapsed)\n" {
		t.Errorf("lines %q", got)
	}
	b.Reset()
	q := NewProgress(&b, true, 10, "quiet")
	q.Set(5, "x")
	q.Done()
	var none *Progress
	none.Set(1, "x")
	none.SetTotal(3)
	none.Clear()
	none.Done()
	if b.Len() != 0 {
		t.Errorf("a quiet progress wrote %q", b.String())
	}
	if IsTerminal(&b) {
		t.Error("a buffer is a terminal")
	}
}
