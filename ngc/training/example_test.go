package training_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/training"
)

// A job as ngc train sets it up: the data named by a spec, a plan, and the
// files beside the final model.
func ExampleSetup_NewJob() {
	dir, err := os.MkdirTemp("", "training-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	m, err := ngc.New(ngc.Config{Channels: []int{4, 3}, Steps: 4, Batch: 5, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	s := training.Setup{Out: filepath.Join(dir, "model.safetensors"), CheckpointEvery: 2}
	state := training.NewState(training.DataSpec{Dataset: "color-mnist", MaxImages: 10, Seed: 1, ValidationImages: 5})
	job, err := s.NewJob(context.Background(), &training.ConvNGC{Model: m}, state, training.Plan{Epochs: 2}, "Conv-NGC")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.Describe())
	res, err := job.Run(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("stopped (%s) after %d updates; checkpoint %s\n", res.Stopped, state.Updates, filepath.Base(job.Latest))
	// Output:
	// training on 10 images of color-mnist/train, 2 updates of 5 an epoch; job at update 0 (epoch 1); budget: 2 epochs
	// stopped (epochs) after 4 updates; checkpoint model-latest.safetensors
}
