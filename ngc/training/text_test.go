package training

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc"
)

// TestJobText: a short job's text as `ngc train` prints it: what it is
// about to do and where it writes, progress lines at every validation when
// stderr is no terminal, and where it stopped, its best validation and its
// files.
func TestJobText(t *testing.T) {
	dir := t.TempDir()
	job := newJob(t, smallModel(t, ngc.Config{}), dir)
	job.ValidateEvery, job.MaxUpdates = 2, 2
	var start strings.Builder
	out := filepath.Join(dir, "model.safetensors")
	if err := job.WriteStart(&start, out); err != nil {
		t.Fatal(err)
	}
	want := job.Describe() + "\nwriting to " + dir + ": the final model model.safetensors, and as it goes latest.safetensors and curve.csv\n"
	if start.String() != want {
		t.Errorf("WriteStart:\n%q\nwant\n%q", start.String(), want)
	}
	var progress strings.Builder
	done := job.ShowProgress(&progress, false)
	res, err := job.Run(context.Background())
	done()
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(progress.String()), "\n"); len(lines) < 1 || !strings.Contains(lines[len(lines)-1], "update 2") {
		t.Errorf("progress lines %q: want one at the validation after update 2", progress.String())
	}
	var text strings.Builder
	if err := res.WriteText(&text, job); err != nil {
		t.Fatal(err)
	}
	s := job.State
	want = fmt.Sprintf("%s\nbest validation MSE %.3f at update %d: %s\ncheckpoint: %s\ncurve: %s, %s\n",
		res.Describe(job), s.BestMSE, s.BestUpdate, job.Best, job.Latest, job.Curve.CSV, job.Curve.PNG)
	if s.BestUpdate == 0 || text.String() != want {
		t.Errorf("WriteText:\n%q\nwant\n%q", text.String(), want)
	}
	var quiet strings.Builder
	job.ShowProgress(&quiet, true)()
	if quiet.Len() != 0 {
		t.Errorf("quiet progress wrote %q", quiet.String())
	}
}

// TestWriteResults: the final model, its report and (with an evaluation)
// the grid, each named on a line.
func TestWriteResults(t *testing.T) {
	dir := t.TempDir()
	m := smallModel(t, ngc.Config{})
	f := FilesFor(filepath.Join(dir, "model.safetensors"))
	res, err := m.Evaluate(context.Background(), smallSet(6, 3), ngc.EvalOptions{Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, eval := range []*ngc.EvalResult{nil, &res} {
		var b strings.Builder
		if err := f.WriteResults(&b, m.Model.Save, map[string]any{"x": 1}, eval); err != nil {
			t.Fatal(err)
		}
		want := "model: " + f.Out + "\nmetrics: " + f.JSON + "\n"
		if eval != nil {
			want += "grid (inputs / reconstructions): " + f.Grid + "\n"
		}
		if b.String() != want {
			t.Errorf("WriteResults:\n%q\nwant\n%q", b.String(), want)
		}
		for _, p := range []string{f.Out, f.JSON} {
			if _, err := os.Stat(p); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := os.Stat(f.Grid); err != nil {
		t.Error(err)
	}
}
