package circuit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

// lossyBus drops frames on purpose: every frame for which drop returns
// true is counted as sent and never delivered.
type lossyBus struct {
	bus.Bus
	mu      sync.Mutex
	drop    func(subject string, batch, step int, resent bool) bool
	dropped []string
}

func (l *lossyBus) Publish(ctx context.Context, subject string, f *bus.Frame) error {
	b, t := untag(f.Step)
	l.mu.Lock()
	d := l.drop(subject, b, t, resent(f.Step))
	if d {
		l.dropped = append(l.dropped, subject)
	}
	l.mu.Unlock()
	if d {
		return nil
	}
	return l.Bus.Publish(ctx, subject, f)
}

// TestLossRepairedOrNamed: a synchronous run whose bus loses messages
// either repairs the loss by a resend round, ending with exactly the
// result of a run without loss, or fails within the timeout naming the
// link; a heartbeat never passes for progress.
func TestLossRepairedOrNamed(t *testing.T) {
	m := smallModel(t, nil)
	const B = 4
	x := images(B, 16, 1)
	run := func(t *testing.T, drop func(string, int, int, bool) bool, learn bool) (*Result, *Session, *lossyBus, error) {
		t.Helper()
		lb := &lossyBus{Bus: inproc(t), drop: drop}
		opts := []Option{Batch(B), TopSeed(9), Timeout(2 * time.Second)}
		if learn {
			opts = append(opts, Learn())
		}
		c, err := FromModel(m)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Start(context.Background(), c, lb, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		var res *Result
		for range 2 {
			if res, err = s.RunBatch(context.Background(), x); err != nil {
				break
			}
		}
		return res, s, lb, err
	}
	for _, learn := range []bool{false, true} {
		want, _, _, err := run(t, func(string, int, int, bool) bool { return false }, learn)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name    string
			subject string
			step    int
		}{
			{"phi", "run.phi.2.1", 3},
			{"error", "run.e.1.0", 5},
			{"state", "run.z.1.2", 2},
			{"probe", "run.probe.0.1", 8},
			{"clamp", "run.clamp.0.0", 0},
			{"init", "run.init.3.0", 0},
			{"output", "run.out.0.2", 9},
		}
		if learn {
			// The learning step's messages, and two of the window's.
			cases = append(cases[1:2], cases[6], struct {
				name    string
				subject string
				step    int
			}{"weights", "run.w.1.3", 9})
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("learn=%v/%s", learn, tc.name), func(t *testing.T) {
				once := false
				start := time.Now()
				got, s, lb, err := run(t, func(subject string, b, step int, re bool) bool {
					if subject == tc.subject && b == 1 && step == tc.step && !re && !once {
						once = true
						return true
					}
					return false
				}, learn)
				if err != nil {
					t.Fatalf("dropping %s at batch 1 step %d: %v", tc.subject, tc.step, err)
				}
				if len(lb.dropped) != 1 || s.Resends() != 1 {
					t.Fatalf("dropped %v, %d resend rounds", lb.dropped, s.Resends())
				}
				if d := maxDiff(got.Output, want.Output); d != 0 {
					t.Errorf("repaired run's output differs by %g", d)
				}
				for st := range want.Energy {
					for l := range want.Energy[st] {
						if got.Energy[st][l] != want.Energy[st][l] {
							t.Errorf("step %d layer %d: energy %v, without loss %v", st+1, l, got.Energy[st][l], want.Energy[st][l])
						}
					}
				}
				t.Logf("lost %s at step %d, repaired after %v", tc.subject, tc.step, time.Since(start).Round(time.Millisecond))
			})
		}
	}
	t.Run("link cut", func(t *testing.T) {
		start := time.Now()
		_, _, _, err := run(t, func(subject string, b, step int, _ bool) bool {
			return subject == "run.e.1.0" && b == 1 && step == 5
		}, false)
		took := time.Since(start)
		if !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "error of e.1.0 → z.1.0 at step 5") {
			t.Fatalf("a cut link: %v", err)
		}
		if took > 3*time.Second { // the first batch, then the timeout
			t.Errorf("failed after %v, timeout 2s", took)
		}
		t.Logf("%v after %v", err, took.Round(time.Millisecond))
	})
}

// TestTickIsNotProgress: with every message of a step lost for good and
// every node heartbeating, the run fails within the timeout.
func TestTickIsNotProgress(t *testing.T) {
	m := smallModel(t, func(c *ngc.Config) { c.Steps = 4 })
	c, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	lb := &lossyBus{Bus: inproc(t), drop: func(subject string, _, step int, _ bool) bool {
		return step == 2 && strings.HasPrefix(subject, "run.phi.")
	}}
	s, err := Start(context.Background(), c, lb, Batch(4), Timeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = s.RunBatch(context.Background(), images(4, 16, 1))
	if !errors.Is(err, ErrLost) || time.Since(start) > 3*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	t.Log(err)
}

// FuzzDecodeWait: no answer to the waiting query makes the coordinator
// panic or allocate more than the bound.
func FuzzDecodeWait(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 0})
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, b []byte) {
		data := make([]float32, len(b)/4)
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		w, err := decodeWait(neuron.Ref{}, data)
		if err == nil && len(w.missing) > maxWaits {
			t.Fatalf("%d waits", len(w.missing))
		}
	})
}
