package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// twoNodes is the placement of the tests: the coordinator hosts the image
// maps, node w the rest.
var twoNodes = &circuit.Placement{Nodes: map[string][]string{"coordinator": {"z.0.*"}, "w": {"e.*.*", "z.1.*", "z.2.*"}}}

// syncLog is a log buffer safe for concurrent writers.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *syncLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func connect(t *testing.T, url string, opts ...bus.Option) *bus.NATS {
	t.Helper()
	b, err := bus.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func startServer(t *testing.T, opts ...bus.EmbeddedOption) *bus.Embedded {
	t.Helper()
	srv, err := bus.StartEmbedded(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// worker runs deploy.Work in a goroutine; the returned channel gives its
// result.
func worker(ctx context.Context, b *bus.NATS, run, node string, opts ...deploy.Option) <-chan error {
	done := make(chan error, 1)
	go func() { done <- deploy.Work(ctx, b, run, node, opts...) }()
	return done
}

// TestServerRestart: the NATS server stops and comes back on the same
// address in the middle of a synchronous run over two nodes; the clients
// reconnect, the messages lost meanwhile are sent again, and the run ends
// with exactly the result of an uninterrupted one.
func TestServerRestart(t *testing.T) {
	m, set := exampleModel()
	ctx := context.Background()
	want, err := deploy.Run(ctx, m, set)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t)
	addr := strings.TrimPrefix(srv.ClientURL(), "nats://")
	reconnect := bus.WithReconnect(-1, 50*time.Millisecond)
	wb := connect(t, srv.ClientURL(), reconnect)
	cb := connect(t, srv.ClientURL(), reconnect)
	done := worker(ctx, wb, "restart", "w")
	var restarted sync.Once
	var restartErr error
	progress := func(p deploy.Progress) {
		if p.Batch == 2 && p.Step == 2 {
			restarted.Do(func() {
				srv.Shutdown()
				time.Sleep(200 * time.Millisecond)
				s2, err := bus.StartEmbedded(bus.ServerAddr(addr))
				if err != nil {
					restartErr = err
					return
				}
				t.Cleanup(s2.Shutdown)
			})
		}
	}
	var log syncLog
	got, err := deploy.Run(ctx, m, set, deploy.WithBus(cb), deploy.WithRunID("restart"), deploy.WithPlacement(twoNodes),
		deploy.WithTimeout(5*time.Second), deploy.WithProgress(progress), deploy.WithLogger(log.logger()))
	if restartErr != nil {
		t.Fatal(restartErr)
	}
	if got != nil {
		t.Logf("resend rounds: %d", got.Runtime.Resends)
		if got.Runtime.Resends > 0 && !strings.Contains(log.String(), "every actor sends again") {
			t.Errorf("a resend round was not logged:\n%s", log.String())
		}
	}
	if err != nil {
		t.Fatalf("run across a server restart: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if got.Result.Report != want.Result.Report || got.Result.Images != want.Result.Images {
		t.Errorf("metrics across a restart %+v, uninterrupted %+v", got.Result.Report, want.Result.Report)
	}
	for s := range want.Result.Energy {
		if got.Result.Energy[s] != want.Result.Energy[s] {
			t.Errorf("step %d: energy %v, uninterrupted %v", s+1, got.Result.Energy[s], want.Result.Energy[s])
		}
	}
}

// TestRunInUse: a second coordinator on a run id that another serves
// refuses to start within a second.
func TestRunInUse(t *testing.T) {
	m, set := exampleModel()
	srv := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := deploy.Run(ctx, m, set, deploy.WithBus(connect(t, srv.ClientURL())), deploy.WithRunID("busy"),
			deploy.WithPlacement(twoNodes))
		first <- err
	}()
	time.Sleep(1500 * time.Millisecond) // the first one serves (it waits for node w)
	start := time.Now()
	_, err := deploy.Run(context.Background(), m, set, deploy.WithBus(connect(t, srv.ClientURL())), deploy.WithRunID("busy"),
		deploy.WithPlacement(twoNodes))
	took := time.Since(start)
	if !errors.Is(err, deploy.ErrRunInUse) || took > 1500*time.Millisecond {
		t.Fatalf("second coordinator after %v: %v", took, err)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	cancel()
	if err := <-first; err == nil {
		t.Error("the first coordinator, interrupted, returned no error")
	}
}

// TestCoordinatorSaysWhatIsWrong: while it waits, the coordinator names
// the nodes that have not joined, and it reports the workers it refused.
func TestCoordinatorSaysWhatIsWrong(t *testing.T) {
	m, set := exampleModel()
	srv := startServer(t)
	var log syncLog
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		_, err := deploy.Run(ctx, m, set, deploy.WithBus(connect(t, srv.ClientURL())), deploy.WithRunID("talk"),
			deploy.WithPlacement(twoNodes), deploy.WithLogger(log.logger()), deploy.WithJoinReminder(200*time.Millisecond),
			deploy.WithJoinTimeout(20*time.Second))
		ran <- err
	}()
	wait := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), what); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the coordinator never said %q:\n%s", what, log.String())
			}
		}
	}
	wait("still waiting for workers w")
	err := deploy.Work(ctx, connect(t, srv.ClientURL()), "talk", "stranger", deploy.WithJoinTimeout(5*time.Second))
	if !errors.Is(err, deploy.ErrRefused) {
		t.Errorf("unknown node: %v", err)
	}
	wait(`refused a worker`)
	wait(`node=stranger`)
	// A worker of another build (another manifest version) is refused too.
	nc := connect(t, srv.ClientURL()).Conn()
	reply, err := nc.Request("talk.ctl.deploy.manifest", []byte(`{"node":"w","instance":"old build","version":1}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deploy.DecodeManifest(reply.Data); !errors.Is(err, deploy.ErrRefused) || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("a worker of manifest version 1: %v", err)
	}
	wait(`worker="old build"`)
	done := worker(ctx, connect(t, srv.ClientURL()), "talk", "w")
	if err := <-ran; err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "node w joined") {
		t.Errorf("no join line:\n%s", log.String())
	}
}

// TestResumeEqualsUninterrupted: a learning run stopped after two of four
// mini-batches and resumed from its journal ends with the same metrics,
// energies and model (parameters and Adam state), bit for bit, as a run
// that was never stopped.
func TestResumeEqualsUninterrupted(t *testing.T) {
	m, _ := exampleModel()
	set := &data.Set{Name: "noise", Images: make([]float32, 16*data.ImageSize), Labels: make([]int, 16)}
	for i := range set.Images {
		set.Images[i] = float32((i*7919)%101) / 101
	}
	ctx := context.Background()
	want, err := deploy.Run(ctx, m, set, deploy.WithLearning(1), deploy.WithJournal(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	part, err := deploy.Run(stop, m, set, deploy.WithLearning(1), deploy.WithJournal(dir), deploy.WithProgress(func(p deploy.Progress) {
		if p.Batch == 3 && p.Step == 2 {
			cancel()
		}
	}))
	if err == nil || part == nil || part.Batches != 2 || part.Of != 4 {
		t.Fatalf("stopped run: %v, report %+v", err, part)
	}
	got, err := deploy.Run(ctx, m, set, deploy.WithLearning(1), deploy.WithJournal(dir), deploy.WithResume())
	if err != nil {
		t.Fatal(err)
	}
	if got.Resumed != 2 || got.Batches != 4 {
		t.Errorf("resumed %d, completed %d", got.Resumed, got.Batches)
	}
	if got.Result.Report != want.Result.Report {
		t.Errorf("metrics %+v, uninterrupted %+v", got.Result.Report, want.Result.Report)
	}
	for s := range want.Result.Energy {
		if got.Result.Energy[s] != want.Result.Energy[s] {
			t.Errorf("step %d: energy %v, uninterrupted %v", s+1, got.Result.Energy[s], want.Result.Energy[s])
		}
	}
	sameModel(t, got.Model, want.Model)

	// Another run's journal is refused.
	_, err = deploy.Run(ctx, m, set, deploy.WithLearning(1), deploy.WithBatch(8), deploy.WithJournal(dir), deploy.WithResume())
	if !errors.Is(err, deploy.ErrJournal) {
		t.Errorf("resuming with another batch size: %v", err)
	}
}

func sameModel(t *testing.T, a, b *ngc.Model) {
	t.Helper()
	for l := 1; l <= b.Config().Layers(); l++ {
		sa, sb := a.Synapses(l), b.Synapses(l)
		for i := range sb.W {
			if sa.W[i] != sb.W[i] {
				t.Fatalf("layer %d: kernel %d is %v, uninterrupted %v", l, i, sa.W[i], sb.W[i])
			}
		}
		for i := range sb.Bias {
			if sa.Bias[i] != sb.Bias[i] {
				t.Fatalf("layer %d: bias %d differs", l, i)
			}
		}
	}
}

// TestMetricsDuringRun: the Prometheus handler answers during a run with
// the bus counters and the progress.
func TestMetricsDuringRun(t *testing.T) {
	m, set := exampleModel()
	met := deploy.NewMetrics()
	var scraped string
	_, err := deploy.Run(context.Background(), m, set, deploy.WithMetrics(met), deploy.WithProgress(func(p deploy.Progress) {
		if p.Batch == 2 && p.Step == 3 && scraped == "" {
			rec := httptest.NewRecorder()
			met.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			b, _ := io.ReadAll(rec.Result().Body)
			scraped = string(b)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ngc_frames_sent_total{kind="state",node="coordinator"}`, `ngc_step{node="coordinator"} 3`,
		`ngc_batch{node="coordinator"} 2`, `ngc_steps{node="coordinator"} 5`, `ngc_energy{layer="0",node="coordinator"}`,
		`ngc_steps_total{node="coordinator"}`, `ngc_node_steps_total{node="coordinator"}`,
		`ngc_heartbeat_age_seconds{node="coordinator",peer="coordinator"}`} {
		if !strings.Contains(scraped, want) {
			t.Errorf("no %s in the scrape", want)
		}
	}
	if t.Failed() {
		t.Log(scraped)
	}
}

// TestServerGone: when the NATS server goes away for good, the run fails
// within the timeout saying that the coordinator's connection is down,
// instead of blaming the nodes it cannot hear.
func TestServerGone(t *testing.T) {
	m, set := exampleModel()
	ctx := context.Background()
	srv := startServer(t)
	wb := connect(t, srv.ClientURL())
	cb := connect(t, srv.ClientURL())
	done := worker(ctx, wb, "gone", "w")
	var once sync.Once
	var stopped time.Time
	_, err := deploy.Run(ctx, m, set, deploy.WithBus(cb), deploy.WithRunID("gone"), deploy.WithPlacement(twoNodes),
		deploy.WithTimeout(time.Second), deploy.WithProgress(func(p deploy.Progress) {
			if p.Batch == 1 && p.Step == 1 { // batch 2 at the latest needs the server
				once.Do(func() {
					// Inside the progress callback the batch cannot end
					// before the server is down (Shutdown takes a while).
					srv.Shutdown()
					stopped = time.Now()
				})
			}
		}))
	if !errors.Is(err, circuit.ErrLost) || !strings.Contains(err.Error(), "connection to the bus is down") {
		t.Fatalf("server gone: %v", err)
	}
	// The bound: the timeout and a loaded machine's slack.
	if took := time.Since(stopped); took > 4*time.Second {
		t.Errorf("failed %v after the server went, timeout 1s", took)
	}
	t.Logf("%v (%v after the server went)", err, time.Since(stopped).Round(time.Millisecond))
	if err := <-done; err == nil {
		t.Error("the worker survived its server")
	}
}

// TestGarbageNamed: random bytes published on an actor's subject during a
// run are rejected, and the report says by which node, on which subject,
// claiming which sender and why; the run's result is unchanged.
func TestGarbageNamed(t *testing.T) {
	m, set := exampleModel()
	ctx := context.Background()
	want, err := deploy.Run(ctx, m, set)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t)
	evil := connect(t, srv.ClientURL())
	done := worker(ctx, connect(t, srv.ClientURL()), "junk", "w")
	var once sync.Once
	got, err := deploy.Run(ctx, m, set, deploy.WithBus(connect(t, srv.ClientURL())), deploy.WithRunID("junk"),
		deploy.WithPlacement(twoNodes), deploy.WithProgress(func(p deploy.Progress) {
			once.Do(func() {
				for i := range 7 {
					_ = evil.Conn().Publish("junk.e.0.0", []byte(strings.Repeat("x", 10+i)))
				}
				_ = evil.Conn().Flush()
			})
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rej := got.Runtime.RejectedBy
	t.Logf("rejected: %v", rej)
	// Only the maps of layer 1 (node w) listen to e.0.* when reconstructing.
	if r := rej["w"]; len(rej) != 1 || r["on junk.e.0.0"] != 7 || r["reason magic"] != 7 || r["from (unknown)"] != 7 {
		t.Errorf("rejections %v, want 7 by node w on junk.e.0.0", rej)
	}
	if got.Result.Report != want.Result.Report {
		t.Errorf("metrics with garbage %+v, without %+v", got.Result.Report, want.Result.Report)
	}
}
