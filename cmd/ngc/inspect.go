package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/convngc/convngc/ngc"
)

func runInspect(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "inspect", "[--model FILE] [flags]",
		"Show the layers, map sizes, kernel shapes and parameter counts of a saved model, or of\n"+
			"the network the model flags describe (the paper's, by default).")
	model := fs.String("model", "", "saved model to inspect (default: the config from the flags)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	var mf modelFlags
	mf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	var s ngc.Summary
	if *model != "" {
		m, err := ngc.Load(*model)
		if err != nil {
			return err
		}
		s = m.Inspect()
	} else {
		if _, err := mf.config().Resolve(); err != nil {
			return err
		}
		s = ngc.Inspect(mf.config())
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
	c := s.Config
	fmt.Fprintf(e.stdout, "T=%d β=%g γ=%g z_top~N(%g, %g) φ=%s optimizer=%s lr=%g batch=%d untied=%v pcn=%v\n",
		c.Steps, c.Beta, *c.Gamma, *c.TopMean, *c.TopStd, c.Phi, c.Optimizer, c.LearningRate, c.Batch, c.Untied, c.PCN)
	return nil
}
