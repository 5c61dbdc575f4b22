package deploy

import (
	"testing"
	"time"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// TestSettingsOptions: Settings' options configure a run as the matching
// With options would, and its Reference leaves out the placement, the
// journal and the encoding.
func TestSettingsOptions(t *testing.T) {
	val := &data.Set{Name: "val"}
	p := circuit.Local("a")
	enc := neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: 0.1}
	for _, tc := range []struct {
		name  string
		s     Settings
		check func(full, ref *config) bool
	}{
		{"deployment", Settings{RunID: "r1", Node: "a", Placement: p, JoinTimeout: time.Minute, Journal: "j", Resume: true, Encoding: enc},
			func(c, r *config) bool {
				return c.run == "r1" && c.node == "a" && c.placement == p && c.joinTimeout == time.Minute && c.journal == "j" && c.resume &&
					c.encoding == enc && r.run == "run" && r.placement == nil && r.journal == "" && !r.resume && r.encoding == neuron.Encoding{}
			}},
		{"batches", Settings{Batch: 4, Seed: 9, Timeout: time.Second}, func(c, r *config) bool {
			return c.batch == 4 && c.seed == 9 && c.timeout == time.Second && r.batch == 4 && r.seed == 9 && r.timeout == time.Second
		}},
		{"async", Settings{Seed: 7, Mode: ModeAsync, Async: AsyncSettings{Budget: 3, FireOnArrival: true}}, func(c, r *config) bool {
			return c.mode == ModeAsync && c.async.Budget == 3 && c.async.DelaySeed == 7 && c.async.FireOnArrival && r.mode == ModeAsync
		}},
		{"sync with delay", Settings{Seed: 7, Mode: ModeSync, Async: AsyncSettings{Delay: time.Millisecond}}, func(c, r *config) bool {
			return c.mode == ModeSync && c.async.Delay == time.Millisecond && r.async.Delay == time.Millisecond
		}},
		{"denoise", Settings{Task: ngc.Denoise, NoiseStd: 0.2, NoClip: true}, func(c, r *config) bool {
			return c.task == ngc.Denoise && c.noiseStd == 0.2 && !c.clip && r.task == ngc.Denoise && !r.clip
		}},
		{"learn", Settings{Learn: true, Epochs: 2, Validation: val, ValidateEvery: 5}, func(c, r *config) bool {
			return c.learn && c.epochs == 2 && c.val == val && c.valEvery == 5 && r.learn && r.val == val
		}},
		{"defaults", Settings{}, func(c, r *config) bool {
			return c.mode == ModeSync && c.task == ngc.Reconstruct && !c.learn && c.val == nil && c.clip
		}},
	} {
		full, ref := newConfig(tc.s.Options()), newConfig(tc.s.Reference())
		if !tc.check(full, ref) {
			t.Errorf("%s: options give %+v, reference %+v", tc.name, full, ref)
		}
	}
}
