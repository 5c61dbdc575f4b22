package deploy_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc/report"
)

// TestSession: a session with a sigma-delta encoding runs its dense
// reference first and then the run, each under its own progress name, on
// the opened bus; the report renders itself as `ngc run` prints it.
func TestSession(t *testing.T) {
	m, set := exampleModel()
	ops, err := deploy.StartOps(slog.New(slog.NewTextHandler(io.Discard, nil)), "")
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	b, err := deploy.OpenBus(deploy.BusSpec{URL: deploy.BusInProc})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var names []string
	s := deploy.Session{Settings: deploy.Settings{RunID: "t", Node: "local", Batch: 4, Seed: 1, Mode: deploy.ModeSync, Timeout: time.Minute, JoinTimeout: time.Minute,
		Encoding: neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: 0.01}}, Bus: b, Ops: ops, Dense: true,
		Progress: func(name string) (func(deploy.Progress), func()) {
			names = append(names, name)
			return func(deploy.Progress) {}, func() { names = append(names, "done") }
		}}
	rep, dense, err := s.Run(context.Background(), m, set)
	if err != nil {
		t.Fatal(err)
	}
	if dense == nil || rep.Runtime.Bus != deploy.BusInProc || strings.Join(names, ",") != "run (dense),done,run,done" {
		t.Fatalf("dense %v, bus %q, progress %v", dense != nil, rep.Runtime.Bus, names)
	}
	var got, rt, cmp strings.Builder
	rep.Curve = []deploy.CurvePoint{{ImageUpdates: 8, MSE: 1.5, PSNR: 30}}
	if err := rep.WriteText(&got, set.Name, dense); err != nil {
		t.Fatal(err)
	}
	_ = rep.Runtime.WriteText(&rt)
	_ = deploy.WriteComparison(&cmp, deploy.CompareOf(dense), deploy.CompareOf(rep))
	want := report.Summary(set.Name, rep.Result) + "\n" + rt.String() + cmp.String() + "validation after 8 image-updates: MSE 1.50, PSNR 30.00\n"
	if got.String() != want {
		t.Errorf("WriteText:\n%s\nwant\n%s", got.String(), want)
	}
	s.Dense = false
	if _, dense, err := s.Run(context.Background(), m, set); err != nil || dense != nil {
		t.Errorf("without Dense: reference %v, %v", dense != nil, err)
	}
}

// TestStartOpsAddress: StartOps serves the metrics on the address given and
// fails on one it cannot listen on.
func TestStartOpsAddress(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := deploy.StartOps(log, l.Addr().String()); err == nil {
		t.Error("StartOps listened on a taken address")
	}
	ops, err := deploy.StartOps(log, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops.Close()
}
