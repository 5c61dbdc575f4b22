package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
)

func runWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "worker", "--bus nats://HOST:PORT --run ID --node NAME [flags]",
		"Host, in this process, the state and error map actors that a run's placement gives to\n"+
			"node NAME, connected to the other nodes through a NATS server. The worker asks the\n"+
			"coordinator (`ngc run --run ID --bus ...`) for the run's manifest — circuit, parameters,\n"+
			"config, placement, task and mode — so it needs no model file; start workers before or\n"+
			"shortly after the coordinator. It logs one line per mini-batch on stderr, leaves with exit\n"+
			"status 0 when the run ends, and fails when the run fails, when the coordinator falls\n"+
			"silent for the run's --timeout, or when interrupted.")
	url := fs.String("bus", "", "NATS server URL, e.g. nats://10.0.0.1:4222 (comma-separated for a cluster; required)")
	runID := fs.String("run", "run", "run to join (the coordinator's --run)")
	node := fs.String("node", "", "this worker's node name in the run's placement (required)")
	wait := fs.Duration("wait", 0, "give up when no coordinator serves the run within this long (0: wait until interrupted)")
	var bf busFlags
	bf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *url == "":
		return fmt.Errorf("worker: --bus is required (the NATS server's URL)")
	case *url == "inproc" || *url == "embedded":
		return fmt.Errorf("worker: --bus %s cannot reach a coordinator in another process; give the NATS server's URL", *url)
	case *node == "":
		return fmt.Errorf("worker: --node is required (a node of the run's placement)")
	}
	if err := bus.ValidToken(*runID); err != nil {
		return fmt.Errorf("worker: --run: %w", err)
	}
	if err := bus.ValidToken(*node); err != nil {
		return fmt.Errorf("worker: --node: %w", err)
	}
	logger := log.New(e.stderr, "worker "+*node+": ", log.LstdFlags)
	errs := &errorLog{w: e.stderr, prefix: "worker " + *node + ": ", limit: 5}
	opts, err := bf.options("ngc worker "+*node, errs.report)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	// --wait bounds connecting and joining, not the run.
	joinCtx := ctx
	if *wait > 0 {
		var cancel context.CancelFunc
		joinCtx, cancel = context.WithTimeout(ctx, *wait)
		defer cancel()
	}
	b, err := connect(joinCtx, *url, opts, logger)
	if err != nil {
		return err
	}
	defer b.Close()
	defer errs.mute()
	w := &worker{b: b, nc: b.Conn(), run: *runID, node: *node, log: logger, errs: errs}
	return w.serve(ctx, joinCtx)
}

// connect connects to the NATS server, waiting for it to come up while
// ctx lasts (a coordinator's embedded server may start after the workers).
func connect(ctx context.Context, url string, opts []bus.Option, logger *log.Logger) (*bus.NATS, error) {
	logged := false
	for {
		b, err := bus.Connect(url, opts...)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, nats.ErrNoServers) {
			return nil, fmt.Errorf("worker: %w", err)
		}
		if !logged {
			logger.Printf("waiting for the NATS server at %s", url)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("worker: %w (gave up waiting: %v)", err, context.Cause(ctx))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// worker is one `ngc worker` process in a run.
type worker struct {
	b    *bus.NATS
	nc   *nats.Conn
	run  string
	node string
	log  *log.Logger
	errs *errorLog
}

// serve joins the run (while joinCtx lasts) and hosts this node's actors
// until the run ends, fails or ctx ends.
func (w *worker) serve(ctx, joinCtx context.Context) error {
	// Listen for the end and the coordinator's notes before joining, so
	// nothing published after the manifest is missed.
	ends := make(chan endNote, 1)
	batches := make(chan batchNote, 64)
	alive := make(chan struct{}, 1)
	sub := func(subject string, h nats.MsgHandler) error {
		// Closing the connection ends the subscription.
		if _, err := w.nc.Subscribe(subject, h); err != nil {
			return fmt.Errorf("worker: subscribe %s: %w", subject, err)
		}
		return nil
	}
	if err := sub(deploySubject(w.run, "end"), func(m *nats.Msg) {
		var n endNote
		if json.Unmarshal(m.Data, &n) != nil {
			n = endNote{Error: "unreadable end of run"}
		}
		select {
		case ends <- n:
		default:
		}
	}); err != nil {
		return err
	}
	if err := sub(deploySubject(w.run, "batch"), func(m *nats.Msg) {
		var n batchNote
		if json.Unmarshal(m.Data, &n) == nil {
			select {
			case batches <- n:
			default: // the log skips a line rather than stall the connection
			}
		}
	}); err != nil {
		return err
	}
	if err := sub(deploySubject(w.run, "alive"), func(*nats.Msg) {
		select {
		case alive <- struct{}{}:
		default:
		}
	}); err != nil {
		return err
	}

	man, err := w.join(joinCtx)
	if err != nil {
		return err
	}
	opts, err := man.sessionOptions()
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	c := man.circuit()
	mine, err := man.Placement.OnNode(c.Graph, w.node)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if len(mine) == 0 {
		return fmt.Errorf("worker: run %q places no actor on node %s (nodes: %s)", w.run, w.node, strings.Join(man.Placement.NodeNames(), ", "))
	}
	opts = append(opts, circuit.Placed(man.Placement, w.node), circuit.Worker())
	s, err := circuit.Start(ctx, c, w.b, opts...)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer s.Close()
	if err := w.answerStats(len(mine)); err != nil {
		return err
	}
	w.log.Printf("run %s: hosting %d actors (%s), %s mode, %s, batch %d, T=%d",
		w.run, len(mine), summarize(c.Graph, mine), man.Mode, man.Task, man.Batch, c.Config.Steps)

	failed := make(chan error, 1)
	go func() { failed <- s.Wait(ctx) }()
	tick := time.NewTicker(aliveEvery)
	defer tick.Stop()
	lastAlive := time.Now()
	var last bus.Counts
	done := 0
	logBatch := func(n batchNote) {
		done = n.Batch
		st := w.b.Stats().Sent
		w.log.Printf("batch %d/%d: %d images in %.3f s; this node sent %d frames (%s)",
			n.Batch, n.Of, n.Images, n.Seconds, st.Msgs-last.Msgs, humanBytes(float64(st.Bytes-last.Bytes)))
		last = st
	}
	for {
		select {
		case <-ctx.Done():
			// Leaving: the connection's end is no news.
			w.errs.mute()
			w.report(endNote{Error: "worker interrupted"})
			return fmt.Errorf("worker %s: interrupted during run %q", w.node, w.run)
		case err := <-failed:
			if ctx.Err() != nil {
				continue // reported by the ctx case
			}
			w.errs.mute()
			w.report(endNote{Error: err.Error()})
			return fmt.Errorf("worker %s: %w", w.node, err)
		case n := <-ends:
			w.errs.mute()
			// The notes travel on another subscription: log the batches
			// announced before the end first.
			for drained := false; !drained; {
				select {
				case b := <-batches:
					logBatch(b)
				default:
					drained = true
				}
			}
			st := w.b.Stats()
			if !n.OK {
				return fmt.Errorf("worker %s: run %q failed at the coordinator: %s", w.node, w.run, n.Error)
			}
			w.log.Printf("run %s finished after %d batches; this node sent %d frames (%s)",
				w.run, done, st.Sent.Msgs, humanBytes(float64(st.Sent.Bytes)))
			return nil
		case n := <-batches:
			logBatch(n)
		case <-alive:
			lastAlive = time.Now()
		case <-tick.C:
			if silent := time.Since(lastAlive); silent > man.Timeout {
				return fmt.Errorf("worker %s: %w: the coordinator of run %q sent nothing for %v", w.node, circuit.ErrLost, w.run, silent.Round(time.Millisecond))
			}
		}
	}
}

// join asks the coordinator for the run's manifest until it answers or
// ctx ends.
func (w *worker) join(ctx context.Context) (*manifest, error) {
	subject := deploySubject(w.run, "manifest")
	host, _ := os.Hostname()
	req := encodeJSON(joinRequest{Node: w.node, Instance: fmt.Sprintf("host %s pid %d", host, os.Getpid())})
	logged := false
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		reply, err := w.nc.RequestWithContext(rctx, subject, req)
		cancel()
		if err == nil {
			var m manifest
			if err := json.Unmarshal(reply.Data, &m); err != nil {
				return nil, fmt.Errorf("worker: manifest of run %q: %w", w.run, err)
			}
			if err := m.check(); err != nil {
				return nil, fmt.Errorf("worker: run %q: %w", w.run, err)
			}
			return &m, nil
		}
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("worker: %w: no coordinator served run %q within --wait", circuit.ErrLost, w.run)
			}
			return nil, fmt.Errorf("worker %s: interrupted while waiting for run %q", w.node, w.run)
		}
		if !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("worker: ask for run %q: %w", w.run, err)
		}
		if !logged {
			w.log.Printf("waiting for the coordinator of run %s", w.run)
			logged = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// answerStats serves the coordinator's request for this node's counters.
func (w *worker) answerStats(actors int) error {
	subject := deploySubject(w.run, "stats", w.node)
	_, err := w.nc.Subscribe(subject, func(m *nats.Msg) {
		_ = m.Respond(encodeJSON(statsOf(w.node, actors, w.b.Stats())))
	})
	if err != nil {
		return fmt.Errorf("worker: subscribe %s: %w", subject, err)
	}
	return nil
}

// report tells the coordinator why this worker stops, so the run fails at
// once with the reason instead of after the heartbeat bound.
func (w *worker) report(n endNote) {
	_ = w.nc.Publish(deploySubject(w.run, "failed", w.node), encodeJSON(n))
	_ = w.nc.FlushTimeout(time.Second)
}
