package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// msg is what a test handler saw.
type msg struct {
	subject string
	f       *Frame
}

// chanHandler returns a handler that forwards to a buffered channel.
func chanHandler(n int) (Handler, chan msg) {
	ch := make(chan msg, n)
	return func(subject string, f *Frame) { ch <- msg{subject, f} }, ch
}

// recv waits for one message.
func recv(t *testing.T, ch <-chan msg) msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a frame")
		return msg{}
	}
}

// none checks that nothing arrives for a short while.
func none(t *testing.T, ch <-chan msg) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("unexpected frame on %q from %q", m.subject, m.f.Sender)
	case <-time.After(50 * time.Millisecond):
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testBus runs the behaviour every Bus must share. newBus returns a fresh
// bus; the test closes it.
func testBus(t *testing.T, newBus func(t *testing.T) Bus) {
	t.Run("RoundTrip", func(t *testing.T) {
		b := newBus(t)
		defer b.Close()
		h, ch := chanHandler(4)
		sub, err := b.Subscribe("r1.z.1.3", h)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Subject() != "r1.z.1.3" {
			t.Fatalf("Subject() = %q", sub.Subject())
		}
		if err := b.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		want := testFrame(3, 4, 4, noise(1, 48))
		keep := want.Clone()
		if err := b.Publish(ctxT(t), "r1.z.1.3", want); err != nil {
			t.Fatal(err)
		}
		m := recv(t, ch)
		if m.subject != "r1.z.1.3" {
			t.Fatalf("subject %q", m.subject)
		}
		sameFrame(t, m.f, keep)
		none(t, ch)
	})

	t.Run("Wildcards", func(t *testing.T) {
		b := newBus(t)
		defer b.Close()
		hAll, all := chanHandler(16)
		hLayer, layer1 := chanHandler(16)
		hExact, exact := chanHandler(16)
		for pat, h := range map[string]Handler{"r1.z.>": hAll, "r1.*.1.*": hLayer, "r1.e.0.2": hExact} {
			if _, err := b.Subscribe(pat, h); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"r1.z.1.3", "r1.z.2.0", "r1.e.1.5", "r1.e.0.2", "r2.z.1.3"} {
			f := &Frame{Run: "r1", Sender: s, Kind: KindState, Shape: []int{1}, Payload: []float32{1}}
			if err := b.Publish(ctxT(t), s, f); err != nil {
				t.Fatal(err)
			}
		}
		got := func(ch chan msg, n int) []string {
			var s []string
			for range n {
				s = append(s, recv(t, ch).subject)
			}
			none(t, ch)
			return s
		}
		if s := got(all, 2); s[0] != "r1.z.1.3" || s[1] != "r1.z.2.0" {
			t.Errorf("r1.z.> got %v", s)
		}
		if s := got(layer1, 2); s[0] != "r1.z.1.3" || s[1] != "r1.e.1.5" {
			t.Errorf("r1.*.1.* got %v", s)
		}
		if s := got(exact, 1); s[0] != "r1.e.0.2" {
			t.Errorf("r1.e.0.2 got %v", s)
		}
	})

	t.Run("OrderPerPublisher", func(t *testing.T) {
		b := newBus(t)
		defer b.Close()
		const pubs, n = 3, 200
		h, ch := chanHandler(pubs * n)
		if _, err := b.Subscribe("r1.e.>", h, QueueLen(pubs*n)); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for p := range pubs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				subj := fmt.Sprintf("r1.e.0.%d", p)
				for i := range n {
					f := &Frame{Run: "r1", Sender: subj, Kind: KindError, Step: uint64(i), Shape: []int{2}, Payload: []float32{float32(i), 0}}
					if err := b.Publish(ctxT(t), subj, f); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		next := map[string]uint64{}
		for range pubs * n {
			m := recv(t, ch)
			if m.f.Step != next[m.f.Sender] {
				t.Fatalf("from %s: step %d, want %d", m.f.Sender, m.f.Step, next[m.f.Sender])
			}
			next[m.f.Sender]++
		}
	})

	t.Run("Stats", func(t *testing.T) {
		b := newBus(t)
		defer b.Close()
		h1, ch1 := chanHandler(8)
		h2, ch2 := chanHandler(8)
		if _, err := b.Subscribe("r1.z.>", h1); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Subscribe("r1.z.1.*", h2); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		f1 := &Frame{Run: "r1", Sender: "z.1.0", Kind: KindState, Shape: []int{2, 2}, Payload: make([]float32, 4)}
		f2 := &Frame{Run: "r1", Sender: "z.2.0", Kind: KindState, Shape: []int{2, 2}, Payload: make([]float32, 4)}
		f3 := &Frame{Run: "r1", Sender: "coord", Kind: KindControl}
		size1, size2, size3 := f1.WireSize(), f2.WireSize(), f3.WireSize()
		for _, p := range []struct {
			s string
			f *Frame
		}{{"r1.z.1.0", f1}, {"r1.z.2.0", f2}, {"r1.ctl.go", f3}} {
			if err := b.Publish(ctxT(t), p.s, p.f); err != nil {
				t.Fatal(err)
			}
		}
		recv(t, ch1)
		recv(t, ch1)
		recv(t, ch2)
		if err := b.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		st := b.Stats()
		if st.Sent.Msgs != 3 || st.Sent.Bytes != uint64(size1+size2+size3) {
			t.Errorf("Sent = %+v, want 3 msgs, %d bytes", st.Sent, size1+size2+size3)
		}
		if st.Received.Msgs != 3 || st.Received.Bytes != uint64(2*size1+size2) {
			t.Errorf("Received = %+v, want 3 msgs, %d bytes", st.Received, 2*size1+size2)
		}
		if c := st.SentBySender["z.1.0"]; c.Msgs != 1 || c.Bytes != uint64(size1) {
			t.Errorf("SentBySender[z.1.0] = %+v", c)
		}
		if c := st.ReceivedBySender["z.1.0"]; c.Msgs != 2 {
			t.Errorf("ReceivedBySender[z.1.0] = %+v, want 2 msgs", c)
		}
		if c := st.SentByKind[KindControl]; c.Msgs != 1 {
			t.Errorf("SentByKind[control] = %+v", c)
		}
		if c := st.ReceivedByKind[KindState]; c.Msgs != 3 {
			t.Errorf("ReceivedByKind[state] = %+v", c)
		}
		if st.Rejected != 0 || st.Dropped != 0 {
			t.Errorf("Rejected %d, Dropped %d", st.Rejected, st.Dropped)
		}
	})

	t.Run("Unsubscribe", func(t *testing.T) {
		b := newBus(t)
		defer b.Close()
		h, ch := chanHandler(4)
		sub, err := b.Subscribe("r1.z.1.0", h)
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		if err := sub.Unsubscribe(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Unsubscribe = %v, want ErrClosed", err)
		}
		if err := b.Publish(ctxT(t), "r1.z.1.0", testFrame(1, 1, 1, []float32{1})); err != nil {
			t.Fatal(err)
		}
		none(t, ch)
	})

	t.Run("BadInput", func(t *testing.T) {
		b := newBus(t)
		defer b.Close()
		f := testFrame(1, 1, 1, []float32{1})
		for _, tt := range []struct {
			subject string
			f       *Frame
			want    error
		}{
			{"r1.z.>", f, ErrSubject},
			{"r1..z", f, ErrSubject},
			{"", f, ErrSubject},
			{"r1.z.1.0", nil, ErrNilFrame},
			{"r1.z.1.0", &Frame{Shape: []int{2}, Payload: []float32{1}}, ErrShape},
			{"r1.z.1.0", &Frame{Sender: string(make([]byte, 300))}, ErrFrameTooLarge},
		} {
			if err := b.Publish(ctxT(t), tt.subject, tt.f); !errors.Is(err, tt.want) {
				t.Errorf("Publish(%q) = %v, want %v", tt.subject, err, tt.want)
			}
		}
		h, _ := chanHandler(1)
		for _, s := range []string{"", "r1.>.z", "r1 .z"} {
			if _, err := b.Subscribe(s, h); !errors.Is(err, ErrSubject) {
				t.Errorf("Subscribe(%q) = %v, want ErrSubject", s, err)
			}
		}
		if _, err := b.Subscribe("r1.z", nil); err == nil {
			t.Error("Subscribe with nil handler succeeded")
		}
		if _, err := b.Subscribe("r1.z", h, QueueLen(0)); err == nil {
			t.Error("QueueLen(0) accepted")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := b.Publish(ctx, "r1.z.1.0", f); !errors.Is(err, context.Canceled) {
			t.Errorf("Publish with cancelled ctx = %v", err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		b := newBus(t)
		h, ch := chanHandler(1)
		if _, err := b.Subscribe("r1.>", h); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		f := testFrame(1, 1, 1, []float32{1})
		if err := b.Publish(ctxT(t), "r1.z.1.0", f); !errors.Is(err, ErrClosed) {
			t.Errorf("Publish after Close = %v, want ErrClosed", err)
		}
		if _, err := b.Subscribe("r1.>", h); !errors.Is(err, ErrClosed) {
			t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
		}
		if err := b.Flush(ctxT(t)); !errors.Is(err, ErrClosed) {
			t.Errorf("Flush after Close = %v, want ErrClosed", err)
		}
		none(t, ch)
	})
}
