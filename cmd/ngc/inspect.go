package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/report"
)

func runInspect(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "inspect", "[--model FILE] [flags]",
		"Show the layers, map sizes, kernel shapes and parameter counts of a saved model, or of\n"+
			"the network the model flags describe (the paper's, by default). With --against, compare\n"+
			"the model's parameters with another checkpoint of the same network, layer by layer\n"+
			"(largest absolute difference of W, biases and E), e.g. an actor-trained model with a\n"+
			"batched one.")
	model := fs.String("model", "", "saved model to inspect (default: the config from the flags)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	against := fs.String("against", "", "compare --model's parameters with this checkpoint of the same network")
	var mf modelFlags
	mf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *against != "" {
		if *model == "" {
			return fmt.Errorf("inspect: --against needs --model")
		}
		return compareModels(e, *model, *against, *asJSON)
	}
	var s ngc.Summary
	if *model != "" {
		m, err := ngc.Load(*model)
		if err != nil {
			return err
		}
		s = m.Inspect()
	} else {
		if err := mf.check("inspect"); err != nil {
			return err
		}
		cfg, err := mf.modelConfig()
		if err != nil {
			return fmt.Errorf("inspect: %w", err)
		}
		if _, err := cfg.Resolve(); err != nil {
			return err
		}
		s = ngc.Inspect(cfg)
	}
	if *asJSON {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprint(e.stdout, s.String())
	fmt.Fprintln(e.stdout, report.Dynamics(s.Config))
	return nil
}

// compareModels prints the per-synapse parameter differences of two
// checkpoints of the same network (ngc.CompareParams).
func compareModels(e *env, a, b string, asJSON bool) error {
	ma, err := ngc.Load(a)
	if err != nil {
		return err
	}
	mb, err := ngc.Load(b)
	if err != nil {
		return err
	}
	diffs, err := ngc.CompareParams(ma, mb)
	if err != nil {
		return fmt.Errorf("inspect: %s and %s: %w", a, b, err)
	}
	if asJSON {
		out, err := json.MarshalIndent(map[string]any{"model": a, "against": b, "layers": diffs}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(out))
		return nil
	}
	fmt.Fprintf(e.stdout, "%s against %s: largest absolute differences\n", a, b)
	return report.WriteParamDiffs(e.stdout, diffs)
}
