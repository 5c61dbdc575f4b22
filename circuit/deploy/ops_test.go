package deploy_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/ngc"
)

// TestErrorLog: the first errors are logged one by one, then one line per
// hundred, the total at Close, nothing after Mute.
func TestErrorLog(t *testing.T) {
	var lg syncLog
	l := deploy.NewErrorLog(lg.logger(), 2)
	for i := range 203 {
		l.Report(fmt.Errorf("slow consumer %d", i))
	}
	l.Close()
	l.Report(errors.New("after the end"))
	out := lg.String()
	for _, want := range []string{"slow consumer 0", "slow consumer 1", "100 more errors so far", "200 more errors so far", "201 more errors not shown"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "slow consumer 2\"") || strings.Contains(out, "after the end") || strings.Count(out, "\n") != 5 {
		t.Errorf("log:\n%s", out)
	}
}

// TestMetricsServe serves the Prometheus text on a free port until stopped.
func TestMetricsServe(t *testing.T) {
	var lg syncLog
	stop, err := deploy.NewMetrics().Serve("127.0.0.1:0", lg.logger())
	if err != nil {
		t.Fatal(err)
	}
	url := regexp.MustCompile(`http://[0-9.:]+/metrics`).FindString(lg.String())
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %q: %v (log %s)", url, err, lg.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "# TYPE") {
		t.Errorf("GET %s: %s\n%s", url, resp.Status, body)
	}
	stop()
	if _, err := http.Get(url); err == nil {
		t.Error("the endpoint still answers after stop")
	}
	if _, err := deploy.NewMetrics().Serve("256.0.0.1:x", lg.logger()); err == nil {
		t.Error("served on a bad address")
	}
}

// TestOpenBus opens each kind of bus and refuses a URL NATS does not speak.
func TestOpenBus(t *testing.T) {
	in, err := deploy.OpenBus(deploy.BusSpec{URL: deploy.BusInProc})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Bus.(*bus.InProc); !ok || in.Kind != "inproc" || in.URL != "" {
		t.Errorf("inproc: %T %q %q", in.Bus, in.Kind, in.URL)
	}
	in.Close()
	emb, err := deploy.OpenBus(deploy.BusSpec{URL: deploy.BusEmbedded, Name: "test", ServerName: "ngc-test", Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := emb.Bus.(*bus.NATS); !ok || emb.Kind != "embedded" || !strings.HasPrefix(emb.URL, "nats://") {
		t.Errorf("embedded: %T %q %q", emb.Bus, emb.Kind, emb.URL)
	}
	// A client of the embedded server: with the token it joins, and the
	// server's URL reaches it.
	nb, err := deploy.OpenBus(deploy.BusSpec{URL: emb.URL, Name: "client", Options: []bus.Option{bus.WithToken("s3cret")}})
	if err != nil {
		t.Fatal(err)
	}
	if nb.Kind != "nats" {
		t.Errorf("client kind %q", nb.Kind)
	}
	nb.Close()
	emb.Close()
	if _, err := deploy.OpenBus(deploy.BusSpec{URL: "foo://x"}); err == nil {
		t.Error("opened foo://x")
	}
}

// TestRuntimeWriteText prints the runtime's figures.
func TestRuntimeWriteText(t *testing.T) {
	rt := &deploy.Runtime{Bus: "nats", Nodes: 2, Batches: 3, Images: 30, Seconds: 1.5, ImagesPerSecond: 20,
		Messages: 1000, Bytes: 4 << 20, WireBytes: 1 << 20, Deliveries: 1200, Resends: 1,
		RejectedBy: map[string]map[string]uint64{"w": {"reason checksum": 2, "from z.1.0": 2}},
		PerActor:   map[string]deploy.Counts{"z.1.0": {Msgs: 10}, "e.0.2": {Msgs: 30}},
		PerNode:    map[string]deploy.Counts{"w": {Msgs: 40, Bytes: 2048}},
		Async:      &deploy.AsyncSummary{Budget: 4, MaxStateLag: 2}}
	var b strings.Builder
	if err := rt.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"runtime (nats bus, 2 nodes): 30 images in 3 mini-batches in 1.50 s (20.0 img/s)",
		"on the wire", "1 stalled mini-batches repaired", "node w rejected frames: from z.1.0: 2, reason checksum: 2",
		"2 actors sent 10 (z.1.0) to 30 (e.0.2) messages each", "async (budget 4)", "node w: 40 messages"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRemoteNodes(t *testing.T) {
	m, err := ngc.New(ngc.Config{Channels: []int{2, 3, 3}, ImageSize: 32, Steps: 2, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := deploy.RemoteNodes(m, twoNodes, "coordinator"); err != nil || !reflect.DeepEqual(got, []string{"w"}) {
		t.Errorf("two nodes: %v, %v", got, err)
	}
	if got, err := deploy.RemoteNodes(m, circuit.Local("here"), "here"); err != nil || len(got) != 0 {
		t.Errorf("one node: %v, %v", got, err)
	}
}

func TestCredentials(t *testing.T) {
	if !(deploy.Credentials{}).IsZero() || (deploy.Credentials{Token: "t"}).IsZero() {
		t.Error("IsZero")
	}
	opts, err := deploy.Credentials{Token: "t", User: "u", Password: "p", File: "f.creds", TLSCA: "ca.pem", TLSCert: "c.pem", TLSKey: "k.pem"}.Options()
	if err != nil || len(opts) != 5 {
		t.Errorf("every credential: %d options, %v", len(opts), err)
	}
	for _, bad := range []deploy.Credentials{{Password: "p"}, {TLSCert: "c.pem"}, {TLSKey: "k.pem"}} {
		if _, err := bad.Options(); !errors.Is(err, deploy.ErrConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
