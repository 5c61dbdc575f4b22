package bus_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/convngc/convngc/bus"
)

// A state map publishes its mini-batch; a subscriber to every state map of
// the run receives it. The same code runs over NATS with bus.Connect.
func ExampleNewInProc() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	b, err := bus.NewInProc()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	_, err = b.Subscribe("r1.z.>", func(subject string, f *bus.Frame) {
		fmt.Printf("%s: %v from %s, step %d, shape %v\n", subject, f.Kind, f.Sender, f.Step, f.Shape)
	})
	if err != nil {
		log.Fatal(err)
	}

	subject, err := bus.StateSubject("r1", 1, 3)
	if err != nil {
		log.Fatal(err)
	}
	f := &bus.Frame{
		Run: "r1", Sender: "z.1.3", Kind: bus.KindState, Step: 7,
		Shape: []int{2, 16, 16}, Payload: make([]float32, 2*16*16),
	}
	if err := b.Publish(ctx, subject, f); err != nil { // b now owns f
		log.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil { // in-process: waits for the handler
		log.Fatal(err)
	}
	st := b.Stats()
	fmt.Printf("sent %d frame, %d bytes\n", st.Sent.Msgs, st.Sent.Bytes)
	// Output:
	// r1.z.1.3: state from z.1.3, step 7, shape [2 16 16]
	// sent 1 frame, 2103 bytes
}

// An embedded NATS server, reached in-process (no TCP port), carries a
// 500×16×16 map as a binary frame.
func ExampleStartEmbedded() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	srv, err := bus.StartEmbedded(bus.ServerNoListen())
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown()

	b, err := srv.Connect(bus.WithErrorHandler(func(err error) { log.Print(err) }))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	got := make(chan *bus.Frame, 1)
	if _, err := b.Subscribe("r1.e.0.*", func(_ string, f *bus.Frame) { got <- f }); err != nil {
		log.Fatal(err)
	}
	subject, _ := bus.ErrorSubject("r1", 0, 2)
	f := &bus.Frame{Run: "r1", Sender: "e.0.2", Kind: bus.KindError, Step: 1,
		Shape: []int{500, 16, 16}, Payload: make([]float32, 500*16*16)}
	if err := b.Publish(ctx, subject, f); err != nil {
		log.Fatal(err)
	}
	select {
	case f := <-got:
		fmt.Printf("%s sent %d floats\n", f.Sender, len(f.Payload))
	case <-ctx.Done():
		log.Fatal(ctx.Err())
	}
	st := b.Stats()
	fmt.Printf("%d bytes, %d on the wire (zeros compress)\n", st.Sent.Bytes, st.Sent.WireBytes)
	// Output:
	// e.0.2 sent 128000 floats
	// 512055 bytes, 24074 on the wire (zeros compress)
}

// Encoding appends to a reusable buffer; decoding checks every declared
// size against the limits before allocating, and names the sender of a bad
// frame.
func ExampleAppendFrame() {
	f := &bus.Frame{Run: "r1", Sender: "z.2.0", Kind: bus.KindState, Step: 3,
		Shape: []int{1, 2, 2}, Payload: []float32{0.5, -1, 2, 0}}
	buf, err := bus.AppendFrame(nil, f, bus.CompressAuto)
	if err != nil {
		log.Fatal(err)
	}
	back, err := bus.Decode(buf, bus.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(buf), back.Sender, back.Payload)

	buf[len(buf)-1] ^= 0xff // corrupt the payload
	_, err = bus.Decode(buf, bus.Limits{})
	var fe *bus.FrameError
	fmt.Println(errors.Is(err, bus.ErrChecksum), errors.As(err, &fe) && fe.Sender == "z.2.0", fe.Reason())
	// Output:
	// 71 z.2.0 [0.5 -1 2 0]
	// true true checksum
}
