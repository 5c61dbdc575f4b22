package study_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/convngc/convngc/hwsim"
	"github.com/convngc/convngc/hwsim/study"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// Study a small model's circuit on Loihi and on a CPU, lock-step and
// asynchronous with a staleness bound of 2, on four images: what `ngc
// hwsim` does, from code. (A trained model comes from ngc.Load, its images
// from data.Load.)
func Example() {
	m, err := ngc.New(ngc.Config{Channels: []int{2, 3, 3}, ImageSize: 32, Steps: 4, Batch: 2, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	set := &data.Set{Name: "noise", Images: make([]float32, 4*data.ImageSize), Labels: make([]int, 4)}
	for i := range set.Images {
		set.Images[i] = rng.Float32()
	}
	targets, err := study.LoadTargets([]string{"loihi", "cpu"})
	if err != nil {
		log.Fatal(err)
	}
	rep, err := study.Run(context.Background(), m, set, study.Options{Targets: targets,
		Modes: []hwsim.Dynamics{hwsim.SyncDynamics, hwsim.AsyncDynamics}, Batch: 2, MaxLag: 2, Jitter: 0.25, Seed: 1,
		SkipReference: true}) // SkipReference: no wall-clock timing of the batched reference here
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d populations, %d links, %d images\n", rep.Populations, rep.Links, rep.Images)
	for _, a := range rep.Archs {
		sync, async := a.Runs[0], a.Runs[1]
		fmt.Printf("%s: %d cores; sync %.0f messages per image; async staleness at most 2: %v; energy per image priced: %v\n",
			a.Arch, a.Cores, sync.MessagesPerImage, async.MaxStateLag <= 2, sync.EnergyPerImage > 0 && async.EnergyPerImage > 0)
	}
	// Output:
	// 14 populations, 39 links, 4 images
	// loihi: 20 cores; sync 174 messages per image; async staleness at most 2: true; energy per image priced: true
	// cpu: 1 cores; sync 174 messages per image; async staleness at most 2: true; energy per image priced: true
}
