package deploy_test

import (
	"testing"

	"github.com/convngc/convngc/circuit/deploy"
)

// FuzzDecodeManifest: no input makes the manifest decoder panic, and what
// it accepts is usable (a graph, parameters, a placement that assigns it).
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"version":2,"run":"r","mode":"sync","task":"recon","batch":1,"timeout_ns":1}`))
	f.Add([]byte(`{"error":"no"}`))
	f.Add([]byte(`{"version":2,"graph":{"layers":[{"maps":1,"size":2,"image":true},{"maps":1,"size":1}],"synapses":[{"from":1,"to":0,"kernel":3,"stride":2}]},` +
		`"params":{"W":[[0,0,0,0,0,0,0,0,0]],"Bias":[[0],null]},"placement":{"nodes":{"a":["*.*.*"]}},"mode":"sync","task":"recon","batch":1,"timeout_ns":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := deploy.DecodeManifest(b)
		if err != nil {
			return
		}
		if m.Graph == nil || m.Params == nil || m.Placement == nil {
			t.Fatalf("accepted an incomplete manifest: %s", b)
		}
		if _, err := m.Placement.OnNode(m.Graph, "a"); err != nil {
			t.Fatalf("accepted a placement that does not assign the graph: %v", err)
		}
	})
}

// FuzzDecodeJournal: no journal.json makes the decoder panic.
func FuzzDecodeJournal(f *testing.F) {
	f.Add([]byte(`{"version":1,"plan":{"batch":4,"steps":2},"batches":[{"batch":1,"images":4,"seconds":0.1,"trace_bits":[[0],[0],[0]]}]}`))
	f.Add([]byte(`{"version":1,"plan":{"batch":4,"steps":2,"learn":true},"batches":[],"model":"../x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = deploy.DecodeJournal(b)
	})
}
