package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
	"github.com/convngc/convngc/ngc/report"
)

func runRun(ctx context.Context, e *env, args []string) error {
	var rf runFlags
	fs := rf.register(e)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := rf.check(); err != nil {
		return err
	}
	if err := rf.dyn.check("run", fs); err != nil {
		return err
	}
	enc, err := rf.enc.encoding("run")
	if err != nil {
		return err
	}
	rf.Encoding = enc
	ops, err := rf.of.start(e.stderr)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer ops.Close()
	m, set, err := rf.load(ctx, e, fs)
	if err != nil {
		return err
	}
	b, err := rf.openBus(e, ops.Errors)
	if err != nil {
		return err
	}
	defer b.Close()
	reportPath, journal, saveTo := deploy.Paths(rf.model, rf.out, rf.Journal, rf.save, rf.Learn)
	rf.Journal = journal
	session := deploy.Session{Settings: rf.Settings, Bus: b, Ops: ops, Dense: !rf.enc.noDense,
		Progress: func(name string) (func(deploy.Progress), func()) {
			bar := report.NewProgress(e.stderr, rf.quiet, 0, name)
			return runProgress(bar), bar.Done
		}}
	rep, dense, err := session.Run(ctx, m, set)
	if err != nil {
		rf.writePartial(e, args, set.Name, reportPath, rep, err)
		return fmt.Errorf("run: %w", err)
	}
	if rf.Learn {
		if err := rep.Model.Save(saveTo); err != nil {
			return err
		}
	}
	return rf.finish(e, args, set.Name, reportPath, saveTo, rep, dense)
}

// load reads the model (with the dynamics flags), the images, the
// validation images and the placement.
func (rf *runFlags) load(ctx context.Context, e *env, fs *pflag.FlagSet) (*ngc.Model, *data.Set, error) {
	sp, err := data.ParseSplit(rf.split)
	if err != nil {
		return nil, nil, err
	}
	m, err := ngc.Load(rf.model)
	if err != nil {
		return nil, nil, err
	}
	if m, err = rf.dyn.applyNoted(e, "run", fs, m); err != nil {
		return nil, nil, err
	}
	rf.Placement = circuit.Local(rf.Node)
	if rf.placement != "" {
		if rf.Placement, err = circuit.LoadPlacement(rf.placement); err != nil {
			return nil, nil, err
		}
	}
	remote, err := deploy.RemoteNodes(m, rf.Placement, rf.Node)
	if err != nil {
		return nil, nil, err
	}
	if len(remote) > 0 && rf.busURL == "inproc" {
		return nil, nil, fmt.Errorf("run: the placement puts actors on %s, which the in-process bus cannot reach; use --bus embedded or --bus nats://HOST:PORT", strings.Join(remote, ", "))
	}
	set, err := rf.df.load(ctx, sp)
	if err != nil {
		return nil, nil, err
	}
	if err := m.Config().CheckImages(); err != nil {
		return nil, nil, fmt.Errorf("run: %w", err)
	}
	if set.Len() == 0 {
		return nil, nil, fmt.Errorf("run: %s has no images", set.Name)
	}
	if rf.valImages > 0 {
		vo := data.Options{Dataset: rf.df.dataset, Path: rf.df.path, Split: data.Validation, MaxImages: rf.valImages, Seed: rf.df.seed}
		if rf.Validation, err = data.Load(ctx, vo); err != nil {
			return nil, nil, fmt.Errorf("run: --val-images: %w", err)
		}
	}
	return m, set, nil
}

// openBus opens --bus: the in-process bus, an embedded NATS server (whose
// URL it prints) or a connection to a NATS server.
func (rf *runFlags) openBus(e *env, errs *deploy.ErrorLog) (*deploy.OpenedBus, error) {
	spec := deploy.BusSpec{URL: rf.busURL, Name: "ngc run " + rf.RunID, OnError: errs.Report}
	switch rf.busURL {
	case deploy.BusInProc:
	case deploy.BusEmbedded:
		if rf.bf.User != "" || rf.bf.File != "" || rf.bf.TLSCA != "" || rf.bf.TLSCert != "" {
			return nil, fmt.Errorf("run: the embedded server supports --token only; run nats-server for users, credentials or TLS")
		}
		spec.Listen, spec.ServerName, spec.Token = rf.listen, "ngc-"+rf.RunID, rf.bf.Token
		if len(rf.Placement.NodeNames()) > 1 {
			spec.Linger = 2 * time.Second // the workers read the end of the run
		}
	default:
		opts, err := rf.bf.options(spec.Name, errs.Report)
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		spec.Options = opts
	}
	b, err := deploy.OpenBus(spec)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if b.URL != "" {
		fmt.Fprintf(e.stdout, "embedded NATS server: %s\n", b.URL)
	}
	return b, nil
}

// runProgress shows a run's progress on p (deploy.Progress.Status).
func runProgress(p *report.Progress) func(deploy.Progress) {
	return func(pr deploy.Progress) {
		p.SetTotal(pr.Batches)
		p.Set(pr.Status())
	}
}
