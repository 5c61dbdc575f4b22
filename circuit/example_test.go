package circuit_test

import (
	"context"
	"fmt"
	"log"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/ngc"
)

// A Conv-NGC model runs as actors on an in-process bus: every feature map's
// state and error population is a goroutine, and the synchronous dataflow
// reproduces the batched reference.
func ExampleStart() {
	m, err := ngc.New(ngc.Config{Channels: []int{3, 4, 3}, ImageSize: 8, Steps: 5, Batch: 2})
	if err != nil {
		log.Fatal(err)
	}
	c, err := circuit.FromModel(m)
	if err != nil {
		log.Fatal(err)
	}
	b, err := bus.NewInProc()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	s, err := circuit.Start(context.Background(), c, b)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	x := make([]float32, 2*3*8*8) // two grey images
	for i := range x {
		x[i] = 0.5
	}
	res, err := s.RunBatch(context.Background(), x)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("actors:", len(s.Actors()))
	fmt.Println("output values:", len(res.Output))
	fmt.Println("energy recorded for steps:", len(res.Energy))
	// Output:
	// actors: 17
	// output values: 384
	// energy recorded for steps: 6
}

// The same circuit runs asynchronously: actors fire on arrival, each state
// map spends a budget of corrections, and the report says how stale the
// inputs they used were.
func ExampleAsync() {
	m, err := ngc.New(ngc.Config{Channels: []int{3, 4, 3}, ImageSize: 8, Steps: 5, Batch: 2})
	if err != nil {
		log.Fatal(err)
	}
	c, _ := circuit.FromModel(m)
	b, _ := bus.NewInProc()
	defer b.Close()
	s, err := circuit.Start(context.Background(), c, b, circuit.Async(circuit.AsyncConfig{Budget: 8, MaxLag: 2}))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	res, err := s.RunBatch(context.Background(), make([]float32, 2*3*8*8))
	if err != nil {
		log.Fatal(err)
	}
	_, worst := circuit.LagSummary(res.Async.StateLag)
	fmt.Println("budget:", res.Async.Budget, "versions recorded:", len(res.Energy))
	fmt.Println("staleness within the bound:", worst <= 2)
	// Output:
	// budget: 8 versions recorded: 9
	// staleness within the bound: true
}
