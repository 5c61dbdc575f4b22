package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/training"
)

func runTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "train", "[flags]",
		"Train a Conv-NGC model (inference with z[0] clamped, then the local Hebbian-like update, per\n"+
			"mini-batch), save it, and evaluate its reconstruction on test images. With no flags it\n"+
			"trains the paper network on 10,000 Color-MNIST digits for 3 epochs (a few minutes on 2 cores).\n\n"+
			jobHelp)
	var mf modelFlags
	var df dataFlags
	var jf jobFlags
	df.register(fs, 10000)
	mf.register(fs)
	from := fs.String("from", "", "start a new job from this trained model: training flags (--batch, --lr, --T, --beta, ...) given here apply and are printed; --channels, --graph, --residual, --pathway, --untied, --optimizer and --init-std cannot change")
	jf.register(fs, "model.safetensors")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := mf.check("train"); err != nil {
		return err
	}
	if err := checkRules("train", rule{"max-images", df.maxImages, df.maxImages >= 0, "0 (all) or more"}); err != nil {
		return err
	}
	if err := jf.check("train", ngc.Reconstruct); err != nil {
		return err
	}
	if jf.resume && *from != "" {
		return fmt.Errorf("train: --resume continues the job beside --out; --from starts a new one: give one of them")
	}
	m, state, err := startJob(e, fs, &mf, &df, &jf, *from)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	report := map[string]any{"command": append([]string{"ngc", "train"}, args...), "config": m.Config()}
	return jf.train(ctx, e, fs, "train", "Conv-NGC", "", &training.ConvNGC{Model: m}, state, report, mf.Seed, m.Save)
}

// shapeFlags are the model flags that decide what the parameters are: they
// cannot change for a trained model.
var shapeFlags = []string{"channels", "untied", "optimizer", "init-std", "graph", "residual", "pathway"}

// startJob returns the model and job state of a new job, a job started from
// a trained model (--from), or a resumed one (--resume), applying and
// printing the training flags given for a trained model.
func startJob(e *env, fs *pflag.FlagSet, mf *modelFlags, df *dataFlags, jf *jobFlags, from string) (*ngc.Model, *training.State, error) {
	if !jf.resume && from == "" {
		cfg, err := mf.modelConfig()
		if err != nil {
			return nil, nil, err
		}
		m, err := ngc.New(cfg)
		if err != nil {
			return nil, nil, err
		}
		return m, training.NewState(jf.spec(df)), nil
	}
	for _, name := range shapeFlags {
		if fs.Changed(name) {
			return nil, nil, fmt.Errorf("--%s: a trained model's parameters keep their shape and kind; train a new model instead of using --from or --resume", name)
		}
	}
	var (
		m     *ngc.Model
		state *training.State
		err   error
	)
	if jf.resume {
		l, s, err := jf.resumeJob(e, fs, df, training.OpenConvNGC)
		if err != nil {
			return nil, nil, err
		}
		m, state = l.(*training.ConvNGC).Model, s
	} else {
		if m, err = ngc.Load(from); err != nil {
			return nil, nil, err
		}
		state = training.NewState(jf.spec(df))
	}
	r, all, err := m.Override(mf.Config, changed(fs, ngc.TunableSettings())...)
	if err != nil {
		return nil, nil, err
	}
	var changes []string
	for _, ch := range all {
		if !ch.Same() {
			changes = append(changes, fmt.Sprintf("--%s %v (was %v)", ch.Setting, ch.Now, ch.Was))
		}
	}
	if len(changes) > 0 { // a model given only its own settings trains unretuned
		m = r
		fmt.Fprintf(e.stderr, "training flags applied to the trained model: %s\n", strings.Join(changes, ", "))
	}
	return m, state, nil
}
