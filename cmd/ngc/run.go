package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/neuron"
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
	log, err := rf.of.logger(e.stderr)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	m, set, p, err := rf.load(ctx, e, fs)
	if err != nil {
		return err
	}
	var val *data.Set
	if rf.valImages > 0 {
		vo := data.Options{Dataset: rf.df.dataset, Path: rf.df.path, Split: data.Validation, MaxImages: rf.valImages, Seed: rf.df.seed}
		if val, err = data.Load(ctx, vo); err != nil {
			return fmt.Errorf("run: --val-images: %w", err)
		}
	}
	errs := deploy.NewErrorLog(log, 5)
	b, err := rf.openBus(e, errs, p)
	if err != nil {
		return err
	}
	defer b.Close()
	metrics := deploy.NewMetrics()
	stopMetrics, err := rf.of.serveMetrics(metrics, log)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer stopMetrics()
	reportPath, journal, saveTo := rf.paths()
	var dense *deploy.Report
	if enc.Scheme != neuron.Dense && !rf.enc.noDense {
		// The reference: the same images with dense messages, in this
		// process (traffic and operations do not depend on the placement).
		bar := report.NewProgress(e.stderr, rf.quiet, 0, "run (dense)")
		if dense, err = deploy.Run(ctx, m, set, rf.common(log, bar, val)...); err != nil {
			return fmt.Errorf("run: the dense reference run: %w", err)
		}
		bar.Done()
	}
	bar := report.NewProgress(e.stderr, rf.quiet, 0, "run")
	opts := append(rf.options(b.Bus, p, log, journal, metrics, bar, val), deploy.WithEncoding(enc))
	rep, err := deploy.Run(ctx, m, set, opts...)
	bar.Done()
	errs.Close()
	if rep != nil {
		rep.Runtime.Bus = b.Kind
	}
	if err != nil {
		rf.writePartial(e, args, set.Name, reportPath, rep, err)
		return fmt.Errorf("run: %w", err)
	}
	if rf.learn {
		if err := rep.Model.Save(saveTo); err != nil {
			return err
		}
	}
	return rf.finish(e, args, set.Name, b.Kind, reportPath, saveTo, rep, dense)
}

// load reads the model (with the dynamics flags), the images and the
// placement.
func (rf *runFlags) load(ctx context.Context, e *env, fs *pflag.FlagSet) (*ngc.Model, *data.Set, *circuit.Placement, error) {
	sp, err := data.ParseSplit(rf.split)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := ngc.Load(rf.model)
	if err != nil {
		return nil, nil, nil, err
	}
	if m, err = rf.dyn.applyNoted(e, "run", fs, m); err != nil {
		return nil, nil, nil, err
	}
	p := circuit.Local(rf.node)
	if rf.placement != "" {
		if p, err = circuit.LoadPlacement(rf.placement); err != nil {
			return nil, nil, nil, err
		}
	}
	remote, err := deploy.RemoteNodes(m, p, rf.node)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(remote) > 0 && rf.busURL == "inproc" {
		return nil, nil, nil, fmt.Errorf("run: the placement puts actors on %s, which the in-process bus cannot reach; use --bus embedded or --bus nats://HOST:PORT", strings.Join(remote, ", "))
	}
	set, err := rf.df.load(ctx, sp)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg := m.Config(); cfg.ImageSize != data.Height || cfg.ChannelsAt(0) != data.Channels {
		return nil, nil, nil, fmt.Errorf("run: the model takes %d×%d images of %d channels, the data sets hold %d×%d×%d", cfg.ImageSize, cfg.ImageSize, cfg.ChannelsAt(0), data.Height, data.Width, data.Channels)
	}
	if set.Len() == 0 {
		return nil, nil, nil, fmt.Errorf("run: %s has no images", set.Name)
	}
	return m, set, p, nil
}

// openBus opens --bus: the in-process bus, an embedded NATS server (whose
// URL it prints) or a connection to a NATS server.
func (rf *runFlags) openBus(e *env, errs *deploy.ErrorLog, p *circuit.Placement) (*deploy.OpenedBus, error) {
	spec := deploy.BusSpec{URL: rf.busURL, Name: "ngc run " + rf.runID, OnError: errs.Report}
	switch rf.busURL {
	case deploy.BusInProc:
	case deploy.BusEmbedded:
		if rf.bf.User != "" || rf.bf.File != "" || rf.bf.TLSCA != "" || rf.bf.TLSCert != "" {
			return nil, fmt.Errorf("run: the embedded server supports --token only; run nats-server for users, credentials or TLS")
		}
		spec.Listen, spec.ServerName, spec.Token = rf.listen, "ngc-"+rf.runID, rf.bf.Token
		if len(p.NodeNames()) > 1 {
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

// options turns the flags into deploy options.
func (rf *runFlags) options(b bus.Bus, p *circuit.Placement, log *slog.Logger, journal string, m *deploy.Metrics, bar *report.Progress, val *data.Set) []deploy.Option {
	opts := []deploy.Option{deploy.WithBus(b), deploy.WithRunID(rf.runID), deploy.WithNode(rf.node), deploy.WithPlacement(p),
		deploy.WithJoinTimeout(rf.joinTimeout), deploy.WithJournal(journal), deploy.WithMetrics(m)}
	opts = append(opts, rf.common(log, bar, val)...)
	if rf.resume {
		opts = append(opts, deploy.WithResume())
	}
	return opts
}

// common are the options of both the run and its dense reference (which
// runs in this process on a private in-process bus, unjournalled): the
// batches and seed, the dynamics, the task, learning and validation.
func (rf *runFlags) common(log *slog.Logger, bar *report.Progress, val *data.Set) []deploy.Option {
	opts := []deploy.Option{deploy.WithBatch(rf.batch), deploy.WithSeed(rf.seed), deploy.WithTimeout(rf.timeout),
		deploy.WithLogger(log), deploy.WithProgress(runProgress(bar))}
	as := rf.as
	as.DelaySeed = rf.seed
	as.FireOnArrival = rf.fire == "arrival"
	switch {
	case rf.mode == deploy.ModeAsync:
		opts = append(opts, deploy.WithAsync(as))
	case as.Delay > 0 || as.DelayJitter > 0:
		opts = append(opts, deploy.WithLinkDelay(as.Delay, as.DelayJitter))
	}
	if t, _ := ngc.ParseTask(rf.task); t == ngc.Denoise {
		opts = append(opts, deploy.WithDenoise(rf.noise, !rf.noClip))
	}
	if rf.learn {
		opts = append(opts, deploy.WithLearning(rf.epochs))
	}
	if val != nil {
		opts = append(opts, deploy.WithValidation(val, rf.valEvery))
	}
	return opts
}

// runProgress shows a run's progress on p: mini-batch k of K, step t of T.
func runProgress(p *report.Progress) func(deploy.Progress) {
	return func(pr deploy.Progress) {
		p.SetTotal(pr.Batches)
		if pr.Done {
			p.Set(pr.Batch, fmt.Sprintf("batch %d/%d energy %.1f %.0f img/s", pr.Batch, pr.Batches, pr.Energy, pr.ImagesPerSecond))
			return
		}
		p.Set(pr.Batch-1, fmt.Sprintf("batch %d/%d step %d/%d", pr.Batch, pr.Batches, pr.Step, pr.Steps))
	}
}
