package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
)

// Timing of the protocol.
const (
	// AliveEvery is the period of the coordinator's beacon.
	AliveEvery = 250 * time.Millisecond
	// JoinReminder is how often a waiting coordinator logs the nodes that
	// have not joined.
	JoinReminder = 10 * time.Second
	// inUseListen is how long a coordinator listens for another's beacon
	// before it serves a run id: four beacon periods.
	inUseListen = 4 * AliveEvery
)

// subject returns "<run>.ctl.deploy.<parts...>".
func subject(run string, parts ...string) string {
	return run + ".ctl.deploy." + strings.Join(parts, ".")
}

// JoinRequest is a worker's request for the manifest. Instance tells
// processes apart ("host H pid N"), so a second worker for one node is
// refused while a repeated request of the same worker is answered again.
type JoinRequest struct {
	Node     string `json:"node"`
	Instance string `json:"instance"`
	// Version is the manifest version the worker speaks.
	Version int `json:"version,omitempty"`
}

// BatchNote announces a finished mini-batch to the workers.
type BatchNote struct {
	Batch   int     `json:"batch"` // 1-based
	Of      int     `json:"of"`    // batches in the run
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
}

// EndNote ends a run (from the coordinator) or reports a worker's failure
// or refusal.
type EndNote struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Counts is a message and byte tally.
type Counts struct {
	Msgs  uint64 `json:"msgs"`
	Bytes uint64 `json:"bytes"`
}

// NodeStats is a process's share of the run's traffic: what its bus
// connection sent and received, and what it rejected.
type NodeStats struct {
	Node     string                `json:"node"`
	Actors   int                   `json:"actors"`
	Sent     bus.Counts            `json:"sent"`
	Received bus.Counts            `json:"received"`
	BySender map[string]bus.Counts `json:"sent_by_sender"`
	Dropped  uint64                `json:"dropped"`
	Rejected uint64                `json:"rejected"`
	// RejectedBySender is keyed by the sender the bad frames claimed,
	// RejectedByReason by bus.FrameError.Reason.
	RejectedBySender  map[string]uint64 `json:"rejected_by_sender,omitempty"`
	RejectedByReason  map[string]uint64 `json:"rejected_by_reason,omitempty"`
	RejectedBySubject map[string]uint64 `json:"rejected_by_subject,omitempty"`
	// SynapticOps are the synaptic operations of the node's populations
	// (circuit.Session.SynapticOps).
	SynapticOps int64 `json:"synaptic_ops"`
}

func statsOf(node string, actors int, st bus.Stats, s *circuit.Session) NodeStats {
	ns := NodeStats{Node: node, Actors: actors, Sent: st.Sent, Received: st.Received, BySender: st.SentBySender,
		Dropped: st.Dropped, Rejected: st.Rejected, RejectedBySender: st.RejectedBySender, RejectedByReason: st.RejectedByReason,
		RejectedBySubject: st.RejectedBySubject}
	if s != nil {
		ns.SynapticOps = s.SynapticOps()
	}
	return ns
}

// instance names this process for the protocol.
func instance() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("host %s pid %d", host, os.Getpid())
}

// encodeJSON is json.Marshal for the control messages, whose types always
// encode.
func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only channels, functions or cyclic values fail, and none of the
		// control types holds one.
		return []byte(`{}`)
	}
	return b
}

// HumanBytes formats a byte count with a binary unit ("1.5 MiB").
func HumanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	u := 0
	for n >= 1024 && u < len(units)-1 {
		n /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[u])
}
