package bus

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newInProc(t *testing.T, opts ...Option) *InProc {
	t.Helper()
	b, err := NewInProc(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInProc(t *testing.T) {
	testBus(t, func(t *testing.T) Bus { return newInProc(t) })
}

func TestInProcSharesFrame(t *testing.T) {
	b := newInProc(t)
	defer b.Close()
	h, ch := chanHandler(1)
	if _, err := b.Subscribe("r1.z.1.0", h); err != nil {
		t.Fatal(err)
	}
	f := testFrame(1, 1, 2, []float32{1, 2})
	if err := b.Publish(ctxT(t), "r1.z.1.0", f); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch); m.f != f {
		t.Fatal("in-process bus copied the frame")
	}
}

// blockingHandler blocks every call until release is closed, and counts
// the calls it started.
func blockingHandler() (h Handler, started *atomic.Int64, release chan struct{}) {
	started = new(atomic.Int64)
	release = make(chan struct{})
	return func(string, *Frame) {
		started.Add(1)
		<-release
	}, started, release
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestInProcBackpressure(t *testing.T) {
	b := newInProc(t)
	defer b.Close()
	h, started, release := blockingHandler()
	if _, err := b.Subscribe("r1.z.1.0", h, QueueLen(2)); err != nil {
		t.Fatal(err)
	}
	f := testFrame(1, 1, 1, []float32{1})
	// One frame in the handler, two in the queue.
	for range 3 {
		if err := b.Publish(ctxT(t), "r1.z.1.0", f); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the handler to start", func() bool { return started.Load() == 1 })
	}
	// The fourth blocks until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := b.Publish(ctx, "r1.z.1.0", f)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish to a full queue = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(t0); d < 25*time.Millisecond {
		t.Fatalf("Publish returned after %v without blocking", d)
	}
	// A blocked publisher proceeds once the handler catches up.
	done := make(chan error, 1)
	go func() { done <- b.Publish(ctxT(t), "r1.z.1.0", f) }()
	select {
	case err := <-done:
		t.Fatalf("Publish did not block: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Sent.Msgs != 4 || st.Received.Msgs != 4 || st.Dropped != 0 {
		t.Fatalf("stats %+v: want 4 sent (one timed out), 4 received, 0 dropped", st)
	}
}

func TestInProcCloseUnblocksPublisher(t *testing.T) {
	b := newInProc(t)
	h, started, release := blockingHandler()
	defer close(release)
	if _, err := b.Subscribe("r1.z.1.0", h, QueueLen(1)); err != nil {
		t.Fatal(err)
	}
	f := testFrame(1, 1, 1, []float32{1})
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- b.Publish(context.Background(), "r1.z.1.0", f) }()
	}
	// One frame in the handler, one queued, one publisher blocked.
	waitFor(t, "a blocked publisher", func() bool { return started.Load() == 1 && len(errs) == 2 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var closed int
	for range 3 {
		if err := <-errs; errors.Is(err, ErrClosed) {
			closed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if closed != 1 {
		t.Fatalf("%d publishers got ErrClosed, want 1", closed)
	}
	if st := b.Stats(); st.Dropped != 1 {
		t.Fatalf("Dropped = %d, want the 1 queued frame", st.Dropped)
	}
}

func TestInProcUnsubscribeDropsQueued(t *testing.T) {
	b := newInProc(t)
	defer b.Close()
	h, started, release := blockingHandler()
	defer close(release)
	sub, err := b.Subscribe("r1.z.1.0", h, QueueLen(8))
	if err != nil {
		t.Fatal(err)
	}
	f := testFrame(1, 1, 1, []float32{1})
	for range 5 {
		if err := b.Publish(ctxT(t), "r1.z.1.0", f); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the handler to start", func() bool { return started.Load() == 1 })
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Dropped != 4 || st.Received.Msgs != 1 {
		t.Fatalf("Dropped %d, Received %d; want 4 and 1", st.Dropped, st.Received.Msgs)
	}
}

func TestInProcFlushWaitsForHandlers(t *testing.T) {
	b := newInProc(t)
	defer b.Close()
	var handled atomic.Int64
	slow := func(string, *Frame) {
		time.Sleep(2 * time.Millisecond)
		handled.Add(1)
	}
	for _, s := range []string{"r1.z.>", "r1.*.1.*"} {
		if _, err := b.Subscribe(s, slow); err != nil {
			t.Fatal(err)
		}
	}
	f := testFrame(1, 1, 1, []float32{1})
	for range 10 {
		if err := b.Publish(ctxT(t), "r1.z.1.0", f); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := handled.Load(); n != 20 {
		t.Fatalf("Flush returned after %d of 20 handler calls", n)
	}
	// Flush ends with its context when a handler is stuck.
	h, _, release := blockingHandler()
	defer close(release)
	if _, err := b.Subscribe("r1.e.>", h); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctxT(t), "r1.e.0.0", f); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with a stuck handler = %v", err)
	}
}

func TestInProcVerifyDetectsMutation(t *testing.T) {
	var mu sync.Mutex
	var reported []error
	b := newInProc(t, WithVerify(), WithErrorHandler(func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}))
	defer b.Close()
	h, started, release := blockingHandler()
	if _, err := b.Subscribe("r1.z.1.0", h, QueueLen(4)); err != nil {
		t.Fatal(err)
	}
	hOK, ch := chanHandler(4)
	if _, err := b.Subscribe("r1.z.1.1", hOK); err != nil {
		t.Fatal(err)
	}
	good := testFrame(1, 1, 2, []float32{1, 2})
	if err := b.Publish(ctxT(t), "r1.z.1.1", good); err != nil {
		t.Fatal(err)
	}
	recv(t, ch)
	first := testFrame(1, 1, 1, []float32{0})
	if err := b.Publish(ctxT(t), "r1.z.1.0", first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the handler to start", func() bool { return started.Load() == 1 })
	bad := testFrame(1, 1, 2, []float32{1, 2})
	if err := b.Publish(ctxT(t), "r1.z.1.0", bad); err != nil {
		t.Fatal(err)
	}
	bad.Payload[0] = 3 // the publisher breaks the ownership rule
	close(release)
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.Rejected != 1 || st.RejectedBySender["z.1.3"] != 1 || st.RejectedByReason["checksum"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	var fe *FrameError
	if len(reported) != 1 || !errors.As(reported[0], &fe) || fe.Sender != "z.1.3" || fe.Subject != "r1.z.1.0" || !errors.Is(fe, ErrChecksum) {
		t.Fatalf("reported %v", reported)
	}
}

func TestInProcOptions(t *testing.T) {
	for _, opt := range []Option{WithQueueLen(0), WithLimits(Limits{MaxPayload: -1}), WithCompression(9), WithPendingBytes(0)} {
		if _, err := NewInProc(opt); err == nil {
			t.Errorf("bad option accepted")
		}
	}
	b := newInProc(t, WithLimits(Limits{MaxPayload: 16}), WithQueueLen(1), nil)
	defer b.Close()
	if err := b.Publish(ctxT(t), "r1.z.1.0", testFrame(1, 1, 5, make([]float32, 5))); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame over WithLimits: %v", err)
	}
}

func TestInProcConcurrentChurn(t *testing.T) {
	// Subscriptions come and go while publishers run; the race detector
	// and the accounting check the locking.
	b := newInProc(t, WithQueueLen(4))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var published atomic.Int64
	stop := make(chan struct{})
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := &Frame{Run: "r1", Sender: "p", Shape: []int{1}, Payload: []float32{float32(p)}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := b.Publish(ctx, "r1.z.1.0", f); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
					return
				}
				published.Add(1)
			}
		}()
	}
	for i := range 50 {
		sub, err := b.Subscribe("r1.z.>", func(string, *Frame) {})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			_ = b.Flush(ctx)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Subscribe("r1.>", func(string, *Frame) { time.Sleep(time.Microsecond) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	close(stop)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if published.Load() == 0 {
		t.Fatal("nothing published")
	}
}
