package training

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/convngc/convngc/ngc/data"
)

// Files are the files of a job whose final model goes to Out (say
// model.safetensors): the checkpoints and the learning curve written as it
// goes, and the metrics and picture written when it ends, all beside Out.
type Files struct {
	Out  string // the final model
	JSON string // model.json: the metrics
	Grid string // model.png: test inputs above their reconstructions
	// Latest is the job's checkpoint (model-latest.safetensors), Best the
	// best model on validation (model-best.safetensors).
	Latest, Best string
	// CSV and Curve are the learning curve (model-curve.csv and .png).
	CSV, Curve string
}

// FilesFor returns the files of a job whose final model goes to out.
func FilesFor(out string) Files {
	base := strings.TrimSuffix(out, filepath.Ext(out))
	return Files{Out: out, JSON: base + ".json", Grid: base + ".png", Latest: base + "-latest.safetensors",
		Best: base + "-best.safetensors", CSV: base + "-curve.csv", Curve: base + "-curve.png"}
}

// Load loads the job's training images and, when ValidationImages > 0, its
// fixed validation subset of the held-out split.
func (s DataSpec) Load(ctx context.Context) (train, validation *data.Set, err error) {
	train, err = data.Load(ctx, data.Options{Dataset: s.Dataset, Path: s.Path, Split: data.Train, MaxImages: s.MaxImages, Seed: s.Seed})
	if err != nil {
		return nil, nil, err
	}
	if s.ValidationImages > 0 {
		if validation, err = data.Load(ctx, data.Options{Dataset: s.Dataset, Path: s.Path, Split: data.Validation,
			MaxImages: s.ValidationImages, Seed: s.Seed}); err != nil {
			return nil, nil, fmt.Errorf("validation images: %w", err)
		}
	}
	return train, validation, nil
}

// LoadTest loads at most n test images of the spec's data set (0: all).
func (s DataSpec) LoadTest(ctx context.Context, n int) (*data.Set, error) {
	test, err := data.Load(ctx, data.Options{Dataset: s.Dataset, Path: s.Path, Split: data.Test, MaxImages: n, Seed: s.Seed})
	if err != nil {
		return nil, fmt.Errorf("test images: %w", err)
	}
	return test, nil
}

// String describes the data: "cifar10 at DIR (all images, data seed 1,
// 1000 validation images)".
func (s DataSpec) String() string {
	d := s.Dataset
	if s.Path != "" {
		d += " at " + s.Path
	}
	n := "all images"
	if s.MaxImages > 0 {
		n = fmt.Sprintf("%d images", s.MaxImages)
	}
	return fmt.Sprintf("%s (%s, data seed %d, %d validation images)", d, n, s.Seed, s.ValidationImages)
}

// Describe says what ends the plan ("budget: 3 epochs, 2h0m0s this run,
// ..."; "no budget"), with maxTime the wall time of this run (0: none).
func (p Plan) Describe(maxTime time.Duration) string {
	var parts []string
	if p.Epochs > 0 {
		parts = append(parts, fmt.Sprintf("%d epochs", p.Epochs))
	}
	if p.MaxUpdates > 0 {
		parts = append(parts, fmt.Sprintf("%d updates", p.MaxUpdates))
	}
	if maxTime > 0 {
		parts = append(parts, maxTime.String()+" this run")
	}
	if p.Patience > 0 {
		parts = append(parts, fmt.Sprintf("early stop after %d validations under %.1f%% improvement", p.Patience, 100*p.MinImprovement))
	}
	if p.LRDecay > 0 {
		parts = append(parts, fmt.Sprintf("learning rate ×%g after %d validations without a new best", p.LRDecay, p.LRPatience))
	}
	if len(parts) == 0 {
		return "no budget"
	}
	return "budget: " + strings.Join(parts, ", ")
}

// Last is the curve's last point (the zero Point before the first update).
func (s *State) Last() Point {
	if len(s.Curve) == 0 {
		return Point{}
	}
	return s.Curve[len(s.Curve)-1]
}

// Summary is the training part of a job's JSON report after run r:
// objective names what the updates descended (Learner.Objective), and
// "<objective>_per_batch" lists it per update.
func (s *State) Summary(r Result, objective string) map[string]any {
	values := make([]float64, len(s.Curve))
	for i, p := range s.Curve {
		values[i] = p.Objective
	}
	var best any
	if !math.IsInf(s.BestMSE, 0) && !math.IsNaN(s.BestMSE) {
		best = s.BestMSE
	}
	return map[string]any{"objective": objective, objective + "_per_batch": values,
		"stopped": r.Stopped, "updates": s.Updates, "image_updates": s.Images, "epochs": s.Last().Epoch,
		"seconds": s.Seconds, "run_updates": r.Updates, "run_seconds": r.Seconds,
		"best_update": s.BestUpdate, "best_validation_mse": best,
		"last_validation": s.LastValidation(), "plan": s.Plan, "data": s.Data, "lr_decays": s.Decays,
	}
}

// WriteFinal replaces the model at f.Out (written by save) and its JSON
// report f.JSON as one step: both are written to temporary files beside
// them first, then renamed, so that a failure leaves the old pair.
func (f Files) WriteFinal(save func(path string) error, report any) error {
	b, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", f.JSON, err)
	}
	dir := filepath.Dir(f.Out)
	tmpModel := filepath.Join(dir, "."+filepath.Base(f.Out)+".new")
	tmpJSON := filepath.Join(dir, "."+filepath.Base(f.JSON)+".new")
	if err := save(tmpModel); err != nil {
		return err
	}
	if err := os.WriteFile(tmpJSON, append(b, '\n'), 0o644); err != nil {
		os.Remove(tmpModel)
		return fmt.Errorf("write %s: %w", f.JSON, err)
	}
	if err := os.Rename(tmpModel, f.Out); err != nil {
		os.Remove(tmpModel)
		os.Remove(tmpJSON)
		return err
	}
	return os.Rename(tmpJSON, f.JSON)
}

// Describe is the progress as one line: "update 12 epoch 1 (6000/20000)
// energy 41.2 val MSE 95.310 PSNR 29.21 SSIM 0.8712 best 95.310 812 img/s
// ETA 4m10s", objective naming what the updates descend.
func (p Progress) Describe(objective string) string {
	line := fmt.Sprintf("update %d epoch %d (%d/%d) %s %.4g", p.Update, p.Epoch, p.Done, p.PerEpoch, objective, p.Objective)
	if p.Validation != nil {
		line += fmt.Sprintf(" val MSE %.3f PSNR %.2f SSIM %.4f", p.Validation.MSE, p.Validation.PSNR, p.Validation.SSIM)
	}
	if !math.IsInf(p.Best, 1) {
		line += fmt.Sprintf(" best %.3f", p.Best)
	}
	line += fmt.Sprintf(" %.0f img/s", p.ImagesPerSecond)
	if p.ETA >= 0 {
		line += " ETA " + p.ETA.Round(time.Second).String()
	}
	return line
}
