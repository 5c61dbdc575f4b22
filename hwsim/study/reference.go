package study

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/ngc"
)

// ReferenceRuns is how many times the batched reference is timed; the
// fastest pass counts (other work on the machine only ever adds time).
const ReferenceRuns = 3

// measureReference times the batched reference on the same batches
// (inference) and one training batch on a copy of the model (best of
// ReferenceRuns passes each), and prices the wall time with the CPU
// architecture's package power.
func measureReference(ctx context.Context, m *ngc.Model, batchOf func(int) []float32, nb, B int, seed uint64) (*ReferenceReport, error) {
	cpu, err := hwsim.Load("cpu")
	if err != nil {
		return nil, fmt.Errorf("hwsim: %w", err)
	}
	// The training batch changes the kernels: it runs on a copy.
	tm, err := m.WithSteps(m.Config().Steps)
	if err != nil {
		return nil, fmt.Errorf("hwsim: copy the model: %w", err)
	}
	wall, err := timeInference(ctx, m, batchOf, nb, B, seed)
	if err != nil {
		return nil, err
	}
	inf, err := hwsim.EstimateWallTime(cpu, wall, int64(nb*B), "batched reference, reconstruction, measured")
	if err != nil {
		return nil, fmt.Errorf("hwsim: %w", err)
	}
	tws, err := tm.NewWorkspace(B)
	if err != nil {
		return nil, fmt.Errorf("hwsim: %w", err)
	}
	twall := time.Duration(math.MaxInt64)
	for range ReferenceRuns {
		t0 := time.Now()
		if err := tm.TrainBatch(tws, batchOf(0), rand.New(rand.NewPCG(seed, 1)), nil); err != nil {
			return nil, fmt.Errorf("hwsim: batched training: %w", err)
		}
		twall = min(twall, time.Since(t0))
	}
	tr, err := hwsim.EstimateWallTime(cpu, twall, int64(B), "batched reference, training batch, measured")
	if err != nil {
		return nil, fmt.Errorf("hwsim: %w", err)
	}
	return &ReferenceReport{PackagePower: cpu.Energy.PackagePower.Value, PowerSource: cpu.Energy.PackagePower.Source,
		PowerProvenance: string(cpu.Energy.PackagePower.Provenance),
		InferSeconds:    wall.Seconds(), InferImages: nb * B, Inference: inf, InferenceEnergyPerImage: inf.EnergyPerImage(),
		InferenceSecondsPerImage: inf.LatencyPerImage(), Training: tr, TrainingEnergyPerImage: tr.EnergyPerImage(),
		TrainingSecondsPerImage: tr.LatencyPerImage()}, nil
}

// timeInference is the best of ReferenceRuns passes of reconstructing the
// nb mini-batches with the batched reference.
func timeInference(ctx context.Context, m *ngc.Model, batchOf func(int) []float32, nb, B int, seed uint64) (time.Duration, error) {
	ws, err := m.NewWorkspace(B)
	if err != nil {
		return 0, fmt.Errorf("hwsim: %w", err)
	}
	wall := time.Duration(math.MaxInt64)
	for range ReferenceRuns {
		rng := rand.New(rand.NewPCG(seed, 1))
		var w time.Duration
		for k := 0; k < nb; k++ {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			t0 := time.Now()
			if err := m.Infer(ws, batchOf(k), ngc.Reconstruct, rng, nil); err != nil {
				return 0, fmt.Errorf("hwsim: batched inference: %w", err)
			}
			w += time.Since(t0)
		}
		wall = min(wall, w)
	}
	return wall, nil
}
