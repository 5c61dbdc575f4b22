package deploy_test

import (
	"testing"

	"github.com/convngc/convngc/circuit/deploy"
)

// TestProgressStatus: a batch in flight counts the batches before it and
// says its step; a finished one counts itself and says its energy and
// speed.
func TestProgressStatus(t *testing.T) {
	for _, tc := range []struct {
		p    deploy.Progress
		done int
		line string
	}{
		{deploy.Progress{Batch: 2, Batches: 5, Step: 7, Steps: 60}, 1, "batch 2/5 step 7/60"},
		{deploy.Progress{Batch: 2, Batches: 5, Done: true, Energy: 12.345, ImagesPerSecond: 99.6}, 2, "batch 2/5 energy 12.3 100 img/s"},
	} {
		if done, line := tc.p.Status(); done != tc.done || line != tc.line {
			t.Errorf("%+v: %d %q, want %d %q", tc.p, done, line, tc.done, tc.line)
		}
	}
}
