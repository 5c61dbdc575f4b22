package deploy_test

import (
	"context"
	"fmt"
	"log"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// exampleModel returns a small Conv-NGC model and eight images.
func exampleModel() (*ngc.Model, *data.Set) {
	m, err := ngc.New(ngc.Config{Channels: []int{4, 6, 3}, Steps: 5, Batch: 4, Seed: 3})
	if err != nil {
		log.Fatal(err)
	}
	set := &data.Set{Name: "stripes", Images: make([]float32, 8*data.ImageSize), Labels: make([]int, 8)}
	for i := range set.Images {
		set.Images[i] = float32((i/data.Width)%4) / 4
	}
	return m, set
}

// A model runs as actors in this process: no bus, no placement.
func ExampleRun() {
	m, set := exampleModel()
	rep, err := deploy.Run(context.Background(), m, set)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d images in %d mini-batches of %d, T=%d, on the %s bus\n",
		rep.Result.Images, rep.Batches, rep.Batch, rep.Steps, rep.Runtime.Bus)
	// Output:
	// 8 images in 2 mini-batches of 4, T=5, on the inproc bus
}

// The same model runs across two nodes: the coordinator hosts the image
// maps and node "w" (a worker, here a goroutine with its own connection)
// the rest. First over an embedded NATS server reached in-process (no TCP
// port), then over its TCP listener on loopback, as processes on other
// machines would reach a nats-server. The synchronous dataflow gives the
// same result wherever the actors run.
func Example_twoNodes() {
	m, set := exampleModel()
	ctx := context.Background()
	local, err := deploy.Run(ctx, m, set)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := bus.StartEmbedded()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()
	p := &circuit.Placement{Nodes: map[string][]string{"coordinator": {"z.0.*"}, "w": {"e.*.*", "z.1.*", "z.2.*"}}}
	connections := []struct {
		name string
		dial func() (*bus.NATS, error)
	}{
		{"in-process", func() (*bus.NATS, error) { return srv.Connect() }},
		{"tcp", func() (*bus.NATS, error) { return bus.Connect(srv.ClientURL()) }},
	}
	for i, conn := range connections {
		run := fmt.Sprintf("example%d", i)
		wb, err := conn.dial()
		if err != nil {
			log.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- deploy.Work(ctx, wb, run, "w") }()
		cb, err := conn.dial()
		if err != nil {
			log.Fatal(err)
		}
		rep, err := deploy.Run(ctx, m, set, deploy.WithBus(cb), deploy.WithRunID(run), deploy.WithPlacement(p))
		if err != nil {
			log.Fatal(err)
		}
		if err := <-done; err != nil {
			log.Fatal(err)
		}
		cb.Close()
		wb.Close()
		fmt.Printf("%s: %d nodes, %d images, node w sent messages: %v, same MSE as in one process: %v\n", conn.name,
			rep.Runtime.Nodes, rep.Result.Images, rep.Runtime.PerNode["w"].Msgs > 0, rep.Result.Report.MSE == local.Result.Report.MSE)
	}
	// Output:
	// in-process: 2 nodes, 8 images, node w sent messages: true, same MSE as in one process: true
	// tcp: 2 nodes, 8 images, node w sent messages: true, same MSE as in one process: true
}

// A run described in plain values, as a command line or a configuration
// file gives them: Settings turns them into Run's options.
func ExampleSettings() {
	m, set := exampleModel()
	s := deploy.Settings{RunID: "study", Node: "coordinator", Batch: 4, Seed: 1, Mode: deploy.ModeSync,
		Timeout: circuit.DefaultTimeout, JoinTimeout: deploy.DefaultJoinTimeout}
	rep, err := deploy.Run(context.Background(), m, set, s.Options()...)
	if err != nil {
		log.Fatal(err)
	}
	doc := rep.Document(s, nil, nil)
	fmt.Println(doc["status"], doc["run"], doc["batches_done"], "mini-batches")
	// Output:
	// ok study 2 mini-batches
}
