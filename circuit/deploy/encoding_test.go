package deploy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/neuron"
)

// TestSigmaDeltaTwoNodes: a sigma-delta run over two nodes (a worker gets
// the encoding with the manifest) computes exactly what it computes in one
// process, counts every node's synaptic operations, and sends fewer bytes
// and operations per image and step than the dense run. A journal records
// the encoding: resuming with another is refused.
func TestSigmaDeltaTwoNodes(t *testing.T) {
	m, set := exampleModel()
	ctx := context.Background()
	enc := neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: 0.01}
	dense, err := deploy.Run(ctx, m, set)
	if err != nil {
		t.Fatal(err)
	}
	local, err := deploy.Run(ctx, m, set, deploy.WithEncoding(enc))
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t)
	done := worker(ctx, connect(t, srv.ClientURL()), "sd2", "w")
	remote, err := deploy.Run(ctx, m, set, deploy.WithEncoding(enc), deploy.WithBus(connect(t, srv.ClientURL())), deploy.WithRunID("sd2"),
		deploy.WithPlacement(twoNodes))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if remote.Result.Report != local.Result.Report {
		t.Errorf("two nodes: %+v, one process %+v", remote.Result.Report, local.Result.Report)
	}
	if remote.Runtime.SynapticOps != local.Runtime.SynapticOps || remote.Runtime.Encoding != "sigma-delta θ=0.01" {
		t.Errorf("two nodes: %d synaptic operations (%s), one process %d", remote.Runtime.SynapticOps, remote.Runtime.Encoding, local.Runtime.SynapticOps)
	}
	d, s := dense.Runtime.PerImageStep, local.Runtime.PerImageStep
	t.Logf("per image and step: dense %.0f bytes %.0f ops, sigma-delta %.0f bytes %.0f ops; MSE %.2f vs %.2f", d.Bytes, d.SynapticOps, s.Bytes, s.SynapticOps,
		dense.Result.Report.MSE, local.Result.Report.MSE)
	if s.Bytes >= d.Bytes || s.SynapticOps >= d.SynapticOps || d.SynapticOps == 0 {
		t.Errorf("sigma-delta per image and step: %+v, dense %+v", s, d)
	}

	dir := t.TempDir()
	if _, err := deploy.Run(ctx, m, set, deploy.WithEncoding(enc), deploy.WithJournal(dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.Run(ctx, m, set, deploy.WithJournal(dir), deploy.WithResume()); !errors.Is(err, deploy.ErrJournal) {
		t.Errorf("resuming a sigma-delta journal densely: %v", err)
	}
	if _, err := deploy.Run(ctx, m, set, deploy.WithEncoding(neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: -1})); !errors.Is(err, deploy.ErrConfig) {
		t.Errorf("a negative threshold: %v", err)
	}
}

// TestWriteComparison: the comparison table gives each run's figures and
// the reference's over them.
func TestWriteComparison(t *testing.T) {
	var b strings.Builder
	err := deploy.WriteComparison(&b,
		deploy.Comparison{Encoding: "dense", PerImageStep: deploy.PerImageStep{Messages: 260, Bytes: 90000, SynapticOps: 1e6}, MSE: 20, FinalEnergy: 6},
		deploy.Comparison{Encoding: "sigma-delta θ=0.005", PerImageStep: deploy.PerImageStep{Messages: 260, Bytes: 30000, SynapticOps: 4e5}, MSE: 20.5, FinalEnergy: 6.3})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sigma-delta θ=0.005", "30000 (3.00×)", "400000 (2.50×)", "20.50 (+2.5%)", "6.300 (+5.0%)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestValidationCurve: a learning run measures the actors' model on the
// validation images before the first mini-batch, every k-th and after the
// last, with the training done so far.
func TestValidationCurve(t *testing.T) {
	m, set := exampleModel()
	rep, err := deploy.Run(context.Background(), m, set, deploy.WithLearning(2), deploy.WithValidation(set, 3),
		deploy.WithEncoding(neuron.Encoding{Scheme: neuron.SigmaDelta, Threshold: 0.01}))
	if err != nil {
		t.Fatal(err)
	}
	var batches []int
	for i, p := range rep.Curve {
		batches = append(batches, p.Batches)
		if i > 0 {
			q := rep.Curve[i-1]
			if p.ImageUpdates <= q.ImageUpdates || p.Messages <= q.Messages || p.SynapticOps <= q.SynapticOps || p.Seconds <= q.Seconds || !(p.MSE > 0) {
				t.Errorf("point %d %+v after %+v", i, p, q)
			}
		}
	}
	if want := []int{0, 3, 4}; !slices.Equal(batches, want) {
		t.Errorf("validated after %v mini-batches, want %v", batches, want)
	}
	if rep.Curve[len(rep.Curve)-1].ImageUpdates != 16 {
		t.Errorf("last point %+v, want 16 image-updates", rep.Curve[len(rep.Curve)-1])
	}
	if _, err := deploy.Run(context.Background(), m, set, deploy.WithValidation(set, 1)); !errors.Is(err, deploy.ErrConfig) {
		t.Errorf("validation without learning: %v", err)
	}
}
