package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/neuron"
)

// Connect connects to the NATS server at url, waiting for it to come up
// while ctx lasts (a coordinator's embedded server may start after its
// workers; a host's network link may still be coming up). It logs once that
// it waits.
func Connect(ctx context.Context, url string, log *slog.Logger, opts ...bus.Option) (*bus.NATS, error) {
	logged := false
	for {
		b, err := bus.Connect(url, opts...)
		if err == nil {
			return b, nil
		}
		if !transient(err) {
			return nil, err
		}
		if !logged && log != nil {
			log.Info("waiting for the NATS server at " + url)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (gave up waiting: %v)", err, context.Cause(ctx))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// transient reports a connection failure that waiting may cure: no server
// listening yet (nats.ErrNoServers), or a dial that found no route or no
// answer yet (a network link still coming up). Refused credentials, bad
// URLs and TLS failures are final.
func transient(err error) bool {
	if errors.Is(err, nats.ErrNoServers) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Work hosts, in this process, the populations run's placement gives to
// node: it asks the coordinator for the manifest (within WithJoinTimeout, or
// until ctx ends), starts them on b and serves until the run ends (nil),
// fails, the coordinator falls silent for the run's timeout
// (circuit.ErrLost), or ctx ends. It tells the coordinator why it stops. Of
// the options it uses WithLogger, WithJoinTimeout and WithMetrics.
func Work(ctx context.Context, b *bus.NATS, run, node string, opts ...Option) error {
	cfg := newConfig(opts)
	for name, v := range map[string]string{"run id": run, "node": node} {
		if err := bus.ValidToken(v); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrConfig, name, err)
		}
	}
	w := &worker{b: b, nc: b.Conn(), run: run, node: node, cfg: cfg, log: cfg.log.With("node", node),
		ends: make(chan EndNote, 1), batches: make(chan BatchNote, 64), alive: make(chan struct{}, 1)}
	defer w.unsubscribe()
	// Listen for the end and the coordinator's notes before joining, so
	// nothing published after the manifest is missed.
	if err := w.listen(); err != nil {
		return err
	}
	joinCtx := ctx
	if cfg.joinTimeout > 0 {
		var cancel context.CancelFunc
		joinCtx, cancel = context.WithTimeout(ctx, cfg.joinTimeout)
		defer cancel()
	}
	man, err := w.join(joinCtx)
	if err != nil {
		return err
	}
	return w.host(ctx, man)
}

// worker is one Work call.
type worker struct {
	b        *bus.NATS
	nc       *nats.Conn
	run      string
	node     string
	cfg      *config
	log      *slog.Logger
	subs     []*nats.Subscription
	ends     chan EndNote
	batches  chan BatchNote
	alive    chan struct{}
	lastSent bus.Counts
	done     int
}

// listen subscribes the coordinator's end, batch and alive notes.
func (w *worker) listen() error {
	handlers := map[string]nats.MsgHandler{
		subject(w.run, "end"): func(m *nats.Msg) {
			var n EndNote
			if json.Unmarshal(m.Data, &n) != nil {
				n = EndNote{Error: "unreadable end of run"}
			}
			select {
			case w.ends <- n:
			default:
			}
		},
		subject(w.run, "batch"): func(m *nats.Msg) {
			var n BatchNote
			if json.Unmarshal(m.Data, &n) == nil {
				select {
				case w.batches <- n:
				default: // the log skips a line rather than stall the connection
				}
			}
		},
		subject(w.run, "alive"): func(*nats.Msg) {
			select {
			case w.alive <- struct{}{}:
			default:
			}
		},
	}
	for subj, h := range handlers {
		s, err := w.nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("deploy: subscribe %s: %w", subj, err)
		}
		w.subs = append(w.subs, s)
	}
	return nil
}

func (w *worker) unsubscribe() {
	for _, s := range w.subs {
		_ = s.Unsubscribe()
	}
}

// join asks the coordinator for the run's manifest until it answers or
// ctx ends. A manifest this worker cannot use is reported to the
// coordinator too.
func (w *worker) join(ctx context.Context) (*Manifest, error) {
	subj := subject(w.run, "manifest")
	req := encodeJSON(JoinRequest{Node: w.node, Instance: instance(), Version: ManifestVersion})
	logged := false
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		reply, err := w.nc.RequestWithContext(rctx, subj, req)
		cancel()
		if err == nil {
			m, err := DecodeManifest(reply.Data)
			if err != nil {
				if !errors.Is(err, ErrRefused) {
					w.tell("refused", EndNote{Error: err.Error()})
				}
				return nil, fmt.Errorf("deploy: run %q: %w", w.run, err)
			}
			return m, nil
		}
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: no coordinator served run %q within the join timeout", circuit.ErrLost, w.run)
			}
			return nil, fmt.Errorf("deploy: worker %s: interrupted while waiting for run %q", w.node, w.run)
		}
		if !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("deploy: ask for run %q: %w", w.run, err)
		}
		if !logged {
			w.log.Info("waiting for the coordinator of run " + w.run)
			logged = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// host starts this node's actors and serves until the run ends.
func (w *worker) host(ctx context.Context, man *Manifest) error {
	opts, err := man.sessionOptions()
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	c := man.Circuit()
	mine, err := man.Placement.OnNode(c.Graph, w.node)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	if len(mine) == 0 {
		return fmt.Errorf("%w: run %q places no actor on node %s (nodes: %s)", ErrRefused, w.run, w.node, strings.Join(man.Placement.NodeNames(), ", "))
	}
	opts = append(opts, circuit.Placed(man.Placement, w.node), circuit.Worker())
	s, err := circuit.Start(ctx, c, w.b, opts...)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	defer s.Close()
	w.cfg.metrics.watch(w.node, w.b, s)
	if err := w.answerStats(len(mine), s); err != nil {
		return err
	}
	w.log.Info(fmt.Sprintf("run %s: hosting %d actors (%s), %s mode, %s, batch %d, T=%d",
		w.run, len(mine), Summarize(c.Graph, mine), man.Mode, man.Task, man.Batch, c.Config.Steps))
	return w.serve(ctx, s, man)
}

// serve waits for the end of the run, logging every mini-batch.
func (w *worker) serve(ctx context.Context, s *circuit.Session, man *Manifest) error {
	failed := make(chan error, 1)
	go func() { failed <- s.Wait(ctx) }()
	tick := time.NewTicker(AliveEvery)
	defer tick.Stop()
	lastAlive := time.Now()
	for {
		select {
		case <-ctx.Done():
			w.tell("failed", EndNote{Error: "worker interrupted"})
			return fmt.Errorf("deploy: worker %s: interrupted during run %q", w.node, w.run)
		case err := <-failed:
			if ctx.Err() != nil {
				continue // reported by the ctx case
			}
			w.tell("failed", EndNote{Error: err.Error()})
			return fmt.Errorf("deploy: worker %s: %w", w.node, err)
		case n := <-w.ends:
			return w.finish(n)
		case n := <-w.batches:
			w.logBatch(n, man)
		case <-w.alive:
			lastAlive = time.Now()
		case <-tick.C:
			if silent := time.Since(lastAlive); silent > man.Timeout {
				return fmt.Errorf("%w: worker %s: the coordinator of run %q sent nothing for %v", circuit.ErrLost, w.node, w.run, silent.Round(time.Millisecond))
			}
		}
	}
}

// finish ends the run as the coordinator said.
func (w *worker) finish(n EndNote) error {
	// The notes travel on another subscription: log the batches
	// announced before the end first.
	for drained := false; !drained; {
		select {
		case b := <-w.batches:
			w.logBatch(b, nil)
		default:
			drained = true
		}
	}
	st := w.b.Stats()
	if !n.OK {
		return fmt.Errorf("deploy: worker %s: run %q failed at the coordinator: %s", w.node, w.run, n.Error)
	}
	w.log.Info(fmt.Sprintf("run %s finished after %d batches; this node sent %d frames (%s)",
		w.run, w.done, st.Sent.Msgs, HumanBytes(float64(st.Sent.Bytes))))
	return nil
}

// logBatch logs one finished mini-batch with this node's traffic.
func (w *worker) logBatch(n BatchNote, man *Manifest) {
	w.done = n.Batch
	st := w.b.Stats().Sent
	w.log.Info(fmt.Sprintf("batch %d/%d: %d images in %.3f s; this node sent %d frames (%s)",
		n.Batch, n.Of, n.Images, n.Seconds, st.Msgs-w.lastSent.Msgs, HumanBytes(float64(st.Bytes-w.lastSent.Bytes))),
		"batch", n.Batch, "of", n.Of)
	w.lastSent = st
	if man != nil {
		w.cfg.metrics.batchNoted(w.node, n)
	}
}

// answerStats serves the coordinator's request for this node's counters.
func (w *worker) answerStats(actors int, sess *circuit.Session) error {
	subj := subject(w.run, "stats", w.node)
	s, err := w.nc.Subscribe(subj, func(m *nats.Msg) {
		_ = m.Respond(encodeJSON(statsOf(w.node, actors, w.b.Stats(), sess)))
	})
	if err != nil {
		return fmt.Errorf("deploy: subscribe %s: %w", subj, err)
	}
	w.subs = append(w.subs, s)
	return nil
}

// tell reports to the coordinator why this worker stops ("failed") or
// refuses the run ("refused"), so that the run fails at once with the
// reason, blamed on this node, instead of after the heartbeat bound.
func (w *worker) tell(kind string, n EndNote) {
	_ = w.nc.Publish(subject(w.run, kind, w.node), encodeJSON(n))
	if w.nc.IsConnected() {
		_ = w.nc.FlushTimeout(time.Second)
	}
}

// Summarize lists populations compactly: "z.1.*" for every map of a layer,
// "e.2.{0,3,4}" for some.
func Summarize(g *circuit.Graph, refs []neuron.Ref) string {
	type key struct {
		role  neuron.Role
		layer int
	}
	var order []key
	groups := map[key][]string{}
	for _, r := range refs {
		k := key{r.Role, r.Layer}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], fmt.Sprint(r.Index))
	}
	var out []string
	for _, k := range order {
		name := "z"
		if k.role == neuron.ErrorRole {
			name = "e"
		}
		idx := groups[k]
		switch {
		case k.layer < len(g.Layers) && len(idx) == g.Layers[k.layer].Maps:
			out = append(out, fmt.Sprintf("%s.%d.*", name, k.layer))
		case len(idx) == 1:
			out = append(out, fmt.Sprintf("%s.%d.%s", name, k.layer, idx[0]))
		default:
			out = append(out, fmt.Sprintf("%s.%d.{%s}", name, k.layer, strings.Join(idx, ",")))
		}
	}
	return strings.Join(out, " ")
}
