package bus

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func startEmbedded(t *testing.T, opts ...EmbeddedOption) *Embedded {
	t.Helper()
	e, err := StartEmbedded(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// errLog collects what a bus reports to its error handler.
type errLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errLog) handler(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func (l *errLog) find(target error) error {
	for _, err := range l.all() {
		if errors.Is(err, target) {
			return err
		}
	}
	return nil
}

func TestNATSOverTCP(t *testing.T) {
	e := startEmbedded(t)
	if u := e.ClientURL(); !strings.HasPrefix(u, "nats://127.0.0.1:") {
		t.Fatalf("ClientURL %q is not loopback", u)
	}
	testBus(t, func(t *testing.T) Bus {
		b, err := Connect(e.ClientURL(), WithName("test-tcp"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestNATSInProcess(t *testing.T) {
	e := startEmbedded(t, ServerNoListen())
	testBus(t, func(t *testing.T) Bus {
		b, err := e.Connect()
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// eachConnection runs f as a subtest with a bus connected to e over TCP
// and with one using the server's in-process connection.
func eachConnection(t *testing.T, e *Embedded, f func(t *testing.T, b *NATS)) {
	t.Helper()
	for _, tt := range []struct {
		name    string
		connect func() (*NATS, error)
	}{
		{"tcp", func() (*NATS, error) { return Connect(e.ClientURL()) }},
		{"in-process", func() (*NATS, error) { return e.Connect() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.connect()
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			f(t, b)
		})
	}
}

func TestNATSBigFrame(t *testing.T) {
	// A 500×32×32 map is 2 MB raw: more than NATS's default max payload.
	e := startEmbedded(t)
	eachConnection(t, e, func(t *testing.T, b *NATS) {
		if b.MaxFrameSize() < DefaultMaxPayload {
			t.Fatalf("server max payload %d", b.MaxFrameSize())
		}
		h, ch := chanHandler(1)
		if _, err := b.Subscribe("r1.e.0.0", h); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		f := testFrame(500, 32, 32, noise(9, 500*32*32))
		keep := f.Clone()
		if err := b.Publish(ctxT(t), "r1.e.0.0", f); err != nil {
			t.Fatal(err)
		}
		sameFrame(t, recv(t, ch).f, keep)
	})
}

// TestNATSReceivedFramesStayIntact checks that frames decoded in place
// from received messages own their memory: frames kept by the handler, of
// both small and multi-read sizes and every payload alignment, still hold
// what was sent after many more messages have arrived on the connection,
// with two subscriptions receiving the same messages.
func TestNATSReceivedFramesStayIntact(t *testing.T) {
	e := startEmbedded(t)
	eachConnection(t, e, func(t *testing.T, b *NATS) {
		const n = 24
		h1, ch1 := chanHandler(n)
		h2, ch2 := chanHandler(n)
		for _, h := range []Handler{h1, h2} {
			if _, err := b.Subscribe("r1.e.>", h, QueueLen(n)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		var sent []*Frame
		for i := range n {
			size := 1 << 6
			if i%3 == 0 {
				size = 64 << 10 // several 32 KiB client reads
			}
			f := &Frame{Run: "r1", Sender: strings.Repeat("s", 1+i%4), Kind: KindError, Step: uint64(i),
				Shape: []int{size}, Payload: noise(uint64(100+i), size)}
			sent = append(sent, f.Clone())
			if err := b.Publish(ctxT(t), "r1.e.0."+strconv.Itoa(i), f); err != nil {
				t.Fatal(err)
			}
		}
		for _, ch := range []chan msg{ch1, ch2} {
			var got []*Frame
			for range n {
				got = append(got, recv(t, ch).f)
			}
			for i, f := range got {
				sameFrame(t, f, sent[i])
			}
		}
	})
}

func TestNATSTokenAuth(t *testing.T) {
	e := startEmbedded(t, ServerToken("s3cret"))
	tests := []struct {
		name    string
		connect func() (*NATS, error)
		ok      bool
	}{
		{"tcp good token", func() (*NATS, error) { return Connect(e.ClientURL(), WithToken("s3cret")) }, true},
		{"tcp bad token", func() (*NATS, error) { return Connect(e.ClientURL(), WithToken("guess")) }, false},
		{"tcp no token", func() (*NATS, error) { return Connect(e.ClientURL()) }, false},
		{"in-process default token", func() (*NATS, error) { return e.Connect() }, true},
		{"in-process bad token", func() (*NATS, error) { return e.Connect(WithToken("guess")) }, false},
		{"user/password instead", func() (*NATS, error) { return Connect(e.ClientURL(), WithUserInfo("u", "p")) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.connect()
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				h, ch := chanHandler(1)
				if _, err := b.Subscribe("r1.ctl.>", h); err != nil {
					t.Fatal(err)
				}
				if err := b.Publish(ctxT(t), "r1.ctl.go", &Frame{Run: "r1", Sender: "coord", Kind: KindControl}); err != nil {
					t.Fatal(err)
				}
				recv(t, ch)
				return
			}
			if err == nil {
				b.Close()
				t.Fatal("connected with bad credentials")
			}
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
		})
	}
}

func TestNATSRejectsCorruptFrames(t *testing.T) {
	e := startEmbedded(t)
	var log errLog
	b, err := e.Connect(WithErrorHandler(log.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h, ch := chanHandler(4)
	if _, err := b.Subscribe("r1.>", h); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	// A foreign client publishes raw bytes with plain nats.go, over TCP.
	nc, err := nats.Connect(e.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	good, err := AppendFrame(nil, testFrame(2, 4, 4, noise(1, 32)), CompressNone)
	if err != nil {
		t.Fatal(err)
	}
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-3] ^= 0x40
	huge := header{version: 1, sender: "z.4.9", ndims: 1, dims: []uint32{1 << 28}, rawLen: 1 << 30, storedLen: 1 << 30}.bytes()
	for _, p := range []struct {
		subject string
		data    []byte
	}{
		{"r1.z.1.3", badCRC},
		{"r1.z.4.9", huge},
		{"r1.e.0.0", []byte("not a frame")},
		{"r1.z.1.3", good[:len(good)/2]},
		{"r1.z.1.3", good},
	} {
		if err := nc.Publish(p.subject, p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// Only the good frame reaches the handler.
	if m := recv(t, ch); m.f.Sender != "z.1.3" {
		t.Fatalf("handler got a frame from %q", m.f.Sender)
	}
	none(t, ch)
	waitFor(t, "4 rejections", func() bool { return b.Stats().Rejected == 4 })
	st := b.Stats()
	if st.RejectedBySender["z.1.3"] != 2 || st.RejectedBySender["z.4.9"] != 1 || st.RejectedBySender["(unknown)"] != 1 {
		t.Errorf("RejectedBySender = %v", st.RejectedBySender)
	}
	if st.RejectedByReason["checksum"] != 1 || st.RejectedByReason["too_large"] != 1 ||
		st.RejectedByReason["magic"] != 1 || st.RejectedByReason["truncated"] != 1 {
		t.Errorf("RejectedByReason = %v", st.RejectedByReason)
	}
	if st.Received.Msgs != 1 {
		t.Errorf("Received = %+v", st.Received)
	}
	errs := log.all()
	if len(errs) != 4 {
		t.Fatalf("reported %d errors: %v", len(errs), errs)
	}
	var fe *FrameError
	if !errors.As(errs[0], &fe) || fe.Sender != "z.1.3" || fe.Subject != "r1.z.1.3" || !errors.Is(fe, ErrChecksum) {
		t.Fatalf("first report %v", errs[0])
	}
	if msg := errs[0].Error(); !strings.Contains(msg, `"z.1.3"`) || !strings.Contains(msg, "r1.z.1.3") {
		t.Fatalf("error %q does not name sender and subject", msg)
	}
}

func TestNATSSlowConsumer(t *testing.T) {
	e := startEmbedded(t)
	var log errLog
	b, err := e.Connect(WithErrorHandler(log.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h, started, release := blockingHandler()
	if _, err := b.Subscribe("r1.z.>", h, QueueLen(2)); err != nil {
		t.Fatal(err)
	}
	const n = 20
	f := testFrame(1, 1, 1, []float32{1})
	for range n {
		if err := b.Publish(ctxT(t), "r1.z.1.0", f); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow consumer report", func() bool { return log.find(ErrSlowConsumer) != nil })
	waitFor(t, "the handler to start", func() bool { return started.Load() > 0 })
	close(release)
	waitFor(t, "every frame accounted for", func() bool {
		st := b.Stats()
		return st.Received.Msgs+st.Dropped == n
	})
	if st := b.Stats(); st.Dropped == 0 || st.Received.Msgs == 0 {
		t.Fatalf("stats %+v: want some dropped, some received", st)
	}
}

func TestNATSFrameTooLarge(t *testing.T) {
	e := startEmbedded(t, ServerMaxPayload(64<<10), ServerNoListen())
	b, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := e.MaxPayload(); got != 64<<10 {
		t.Fatalf("MaxPayload() = %d", got)
	}
	big := testFrame(32, 32, 32, noise(1, 32*32*32)) // 128 KiB of noise
	if err := b.Publish(ctxT(t), "r1.z.1.0", big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Publish over server max_payload = %v", err)
	}
	// The same size compresses under the limit when it is zeros.
	zeros := testFrame(32, 32, 32, make([]float32, 32*32*32))
	if err := b.Publish(ctxT(t), "r1.z.1.0", zeros); err != nil {
		t.Fatalf("compressible frame: %v", err)
	}
	b2, err := e.Connect(WithLimits(Limits{MaxPayload: 1024}))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if err := b2.Publish(ctxT(t), "r1.z.1.0", zeros); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Publish over WithLimits = %v", err)
	}
}

func TestNATSCompressionStats(t *testing.T) {
	e := startEmbedded(t, ServerNoListen())
	for _, tt := range []struct {
		c          Compression
		payload    []float32
		compressed bool
	}{
		{CompressAuto, make([]float32, 4096), true},
		{CompressAuto, noise(1, 4096), false},
		{CompressNone, make([]float32, 4096), false},
	} {
		b, err := e.Connect(WithCompression(tt.c))
		if err != nil {
			t.Fatal(err)
		}
		h, ch := chanHandler(1)
		if _, err := b.Subscribe("r1.z.1.0", h); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctxT(t), "r1.z.1.0", testFrame(16, 16, 16, tt.payload)); err != nil {
			t.Fatal(err)
		}
		recv(t, ch)
		st := b.Stats()
		if got := st.Sent.WireBytes < st.Sent.Bytes; got != tt.compressed {
			t.Errorf("%v: sent %d wire bytes for %d bytes", tt.c, st.Sent.WireBytes, st.Sent.Bytes)
		}
		if st.Received.WireBytes != st.Sent.WireBytes || st.Received.Bytes != st.Sent.Bytes {
			t.Errorf("%v: received %+v, sent %+v", tt.c, st.Received, st.Sent)
		}
		b.Close()
	}
}

func TestNATSServerLossReported(t *testing.T) {
	e, err := StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	var log errLog
	b, err := Connect(e.ClientURL(), WithNoReconnect(), WithErrorHandler(log.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e.Shutdown()
	waitFor(t, "the disconnect report", func() bool { return log.find(ErrDisconnected) != nil })
	waitFor(t, "the close report", func() bool { return log.find(ErrClosed) != nil })
	if err := b.Publish(ctxT(t), "r1.z.1.0", testFrame(1, 1, 1, []float32{1})); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after losing the server = %v", err)
	}
}

func TestNATSUnsubscribeCountsQueued(t *testing.T) {
	e := startEmbedded(t, ServerNoListen())
	b, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h, started, release := blockingHandler()
	defer close(release)
	sub, err := b.Subscribe("r1.z.1.0", h)
	if err != nil {
		t.Fatal(err)
	}
	f := testFrame(1, 1, 1, []float32{1})
	for range 5 {
		if err := b.Publish(ctxT(t), "r1.z.1.0", f); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the handler to start", func() bool { return started.Load() == 1 })
	// nats.go counts the frame in the handler as pending too.
	waitFor(t, "4 queued", func() bool { n, _, _ := sub.(*natsSub).sub.Pending(); return n == 5 })
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Dropped != 4 {
		t.Fatalf("Dropped = %d, want 4", st.Dropped)
	}
}

func TestEmbeddedOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  EmbeddedOption
	}{
		{"bad addr", ServerAddr("nonsense")},
		{"bad port", ServerAddr("127.0.0.1:99999")},
		{"empty token", ServerToken("")},
		{"zero payload", ServerMaxPayload(0)},
		{"zero pending", ServerMaxPending(0)},
		{"zero timeout", ServerReadyTimeout(0)},
	} {
		if e, err := StartEmbedded(tt.opt); err == nil {
			e.Shutdown()
			t.Errorf("%s accepted", tt.name)
		}
	}
	e := startEmbedded(t, ServerAddr("127.0.0.1:0"), ServerName("test"), ServerReadyTimeout(2*time.Second), ServerMaxPending(1<<20))
	if e.Server() == nil || !strings.HasPrefix(e.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL %q", e.ClientURL())
	}
	// A port already in use fails within the ready timeout.
	port := e.ClientURL()[strings.LastIndex(e.ClientURL(), ":")+1:]
	if e2, err := StartEmbedded(ServerAddr("127.0.0.1:"+port), ServerReadyTimeout(200*time.Millisecond)); err == nil {
		e2.Shutdown()
		t.Fatal("second server on the same port started")
	}
	e.Shutdown()
	e.Shutdown() // twice is harmless
	if _, err := Connect(e.ClientURL(), WithConnectTimeout(200*time.Millisecond), WithNoReconnect()); err == nil {
		t.Fatal("connected to a server that was shut down")
	}
}

func TestNATSOptionsPassThrough(t *testing.T) {
	e := startEmbedded(t)
	b, err := Connect(e.ClientURL(),
		WithName("opts"), WithConnectTimeout(time.Second), WithPingInterval(time.Second, 3),
		WithReconnect(5, 10*time.Millisecond), WithReconnectBufSize(32<<20),
		WithQueueLen(8), WithPendingBytes(1<<20), WithNATSOptions(nats.NoEcho()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Conn().Opts.Name != "opts" || b.Conn().Opts.MaxReconnect != 5 || !b.Conn().Opts.NoEcho {
		t.Fatalf("options not applied: %+v", b.Conn().Opts)
	}
	h, ch := chanHandler(1)
	sub, err := b.Subscribe("r1.z.1.0", h, PendingBytes(4096))
	if err != nil {
		t.Fatal(err)
	}
	if msgs, bytes, _ := sub.(*natsSub).sub.PendingLimits(); msgs != 8 || bytes != 4096 {
		t.Fatalf("pending limits %d msgs, %d bytes", msgs, bytes)
	}
	// NoEcho: our own frames do not come back.
	if err := b.Publish(ctxT(t), "r1.z.1.0", testFrame(1, 1, 1, []float32{1})); err != nil {
		t.Fatal(err)
	}
	none(t, ch)
	if _, err := Connect(e.ClientURL(), WithCredentials("")); err == nil {
		t.Fatal("empty credentials file accepted")
	}
	if _, err := Connect(e.ClientURL(), WithCredentials(t.TempDir()+"/missing.creds")); err == nil {
		t.Fatal("missing credentials file accepted")
	}
	if _, err := Connect(e.ClientURL(), WithInProcessServer(nil)); err == nil {
		t.Fatal("nil in-process server accepted")
	}
}

// Ensure header() keeps producing frames the decoder reads as intended.
func TestHeaderHelper(t *testing.T) {
	data := header{version: 1, sender: "x", ndims: 1, dims: []uint32{1}, rawLen: 4, storedLen: 4}.bytes()
	data = binary.LittleEndian.AppendUint32(data, 0)
	if _, err := Decode(data, Limits{}); !errors.Is(err, ErrChecksum) {
		t.Fatalf("hand-made frame with zero CRC: %v", err)
	}
}
