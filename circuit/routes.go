package circuit

import (
	"fmt"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
)

// routes gathers, per subject pattern, the actors of this session that
// listen to it, so that the session subscribes once per pattern rather than
// once per actor and pattern. Every map of a layer listens to every error
// map below ("<run>.e.<ℓ>.*"); with one subscription per actor a NATS
// server would send each frame once per listening actor over the same
// connection, and each copy would be checked and decoded again. One
// subscription per pattern carries each frame into the process once; the
// handler parses the subject once and hands the same read-only payload to
// every local listener (neuron.Msg: receivers never write Data).
type routes struct {
	patterns []string            // in first-use order
	actors   map[string][]*actor // listeners of each pattern
}

// add makes a listen to pattern.
func (r *routes) add(pattern string, a *actor) {
	if r.actors == nil {
		r.actors = map[string][]*actor{}
	}
	if _, ok := r.actors[pattern]; !ok {
		r.patterns = append(r.patterns, pattern)
	}
	r.actors[pattern] = append(r.actors[pattern], a)
}

// subscribeRoutes subscribes every pattern of r once. A frame is delivered
// to its listeners in order; a listener's inbox is deep enough for every
// message the synchronous dataflow can have in flight (see inboxLen), so
// one listener does not hold up the others.
func (s *Session) subscribeRoutes(r *routes) error {
	for _, pattern := range r.patterns {
		listeners := r.actors[pattern]
		sub, err := s.b.Subscribe(pattern, func(subject string, f *bus.Frame) {
			k, ref, err := parseSubject(subject)
			if err != nil {
				s.fail(fmt.Errorf("circuit: subscription %s of %v: %w", pattern, listeners[0].pop.Ref(), err))
				return
			}
			b, t := untag(f.Step)
			m := neuron.Msg{Kind: k, From: ref, Batch: b, Step: t, Data: f.Payload, Resent: resent(f.Step)}
			if d := f.Delta; d != nil {
				// A sigma-delta frame: the bus checked its entries against
				// its shape; the receiving population checks the shape.
				n := 1
				for _, x := range f.Shape {
					n *= x
				}
				m.Data = nil
				m.Delta = &neuron.Delta{N: n, Seq: d.Seq, Reset: d.Reset, Sparse: d.Sparse, Index: d.Index, Value: f.Payload}
			}
			for _, a := range listeners {
				select {
				case a.inbox <- m:
				case <-s.ctx.Done():
					return
				}
			}
		}, bus.QueueLen(s.queueLen(pattern)))
		if err != nil {
			return fmt.Errorf("circuit: subscribe %s: %w", pattern, err)
		}
		s.subs = append(s.subs, sub)
	}
	return nil
}
