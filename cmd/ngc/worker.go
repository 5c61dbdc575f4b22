package main

import (
	"context"
	"fmt"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit/deploy"
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
	var of opsFlags
	of.register(fs)
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
	case *wait < 0:
		return fmt.Errorf("worker: --wait must not be negative")
	}
	if err := bus.ValidToken(*runID); err != nil {
		return fmt.Errorf("worker: --run: %w", err)
	}
	if err := bus.ValidToken(*node); err != nil {
		return fmt.Errorf("worker: --node: %w", err)
	}
	ops, err := of.start(e.stderr, "worker", *node)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer ops.Close()
	opts, err := bf.options("ngc worker "+*node, ops.Errors.Report)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	h := deploy.Host{URL: *url, Run: *runID, Node: *node, Wait: *wait, BusOptions: opts, Errors: ops.Errors, Logger: ops.Logger, Metrics: ops.Metrics}
	if err := h.Serve(ctx); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}
