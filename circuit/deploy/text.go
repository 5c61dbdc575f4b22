package deploy

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/convngc/convngc/ngc/report"
)

// WriteText prints the run as `ngc run` does: the paper's metrics over the
// images of dataset (report.Summary), the runtime's figures
// (Runtime.WriteText), the comparison with the dense reference when there
// is one (WriteComparison) and the validation curve of a learning run.
func (r *Report) WriteText(w io.Writer, dataset string, dense *Report) error {
	if _, err := fmt.Fprintln(w, report.Summary(dataset, r.Result)); err != nil {
		return err
	}
	if err := r.Runtime.WriteText(w); err != nil {
		return err
	}
	if dense != nil {
		if err := WriteComparison(w, CompareOf(dense), CompareOf(r)); err != nil {
			return err
		}
	}
	bw := bufio.NewWriter(w)
	for _, c := range r.Curve {
		fmt.Fprintf(bw, "validation after %d image-updates: MSE %.2f, PSNR %.2f\n", c.ImageUpdates, c.MSE, c.PSNR)
	}
	return bw.Flush()
}

// WriteText prints the runtime's figures as `ngc run` does: throughput,
// traffic, repairs, rejected frames by node, the least and most talkative
// actors, the async staleness and the traffic per node.
func (rt *Runtime) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "runtime (%s bus, %d nodes): %d images in %d mini-batches in %.2f s (%.1f img/s)\n",
		rt.Bus, rt.Nodes, rt.Images, rt.Batches, rt.Seconds, rt.ImagesPerSecond)
	wire := ""
	if rt.WireBytes > 0 {
		wire = fmt.Sprintf(", %s on the wire", HumanBytes(float64(rt.WireBytes)))
	}
	fmt.Fprintf(bw, "  %d messages (%.0f msg/s), %s (%s/s)%s; %d deliveries, %d dropped, %d rejected\n",
		rt.Messages, rt.MessagesPerSecond, HumanBytes(float64(rt.Bytes)), HumanBytes(rt.BytesPerSecond), wire,
		rt.Deliveries, rt.Dropped, rt.Rejected)
	if p := rt.PerImageStep; p.Messages > 0 {
		wire := ""
		if p.WireBytes > 0 {
			wire = fmt.Sprintf(" (%.0f on the wire)", p.WireBytes)
		}
		fmt.Fprintf(bw, "  %s messages: per image and step %.1f messages, %.0f bytes%s, %.0f synaptic operations\n",
			rt.Encoding, p.Messages, p.Bytes, wire, p.SynapticOps)
	}
	if rt.Resends > 0 {
		fmt.Fprintf(bw, "  %d stalled mini-batches repaired by their senders sending again\n", rt.Resends)
	}
	for _, node := range sortedKeys(rt.RejectedBy) {
		fmt.Fprintf(bw, "  node %s rejected frames: %s\n", node, joinCounts(rt.RejectedBy[node]))
	}
	if len(rt.PerActor) > 0 {
		lo, hi := ^uint64(0), uint64(0)
		var loName, hiName string
		for _, name := range sortedKeys(rt.PerActor) {
			c := rt.PerActor[name]
			if c.Msgs < lo {
				lo, loName = c.Msgs, name
			}
			if c.Msgs > hi {
				hi, hiName = c.Msgs, name
			}
		}
		fmt.Fprintf(bw, "  %d actors sent %d (%s) to %d (%s) messages each\n", len(rt.PerActor), lo, loName, hi, hiName)
	}
	if a := rt.Async; a != nil {
		dropped := 0
		for _, n := range a.DroppedInputs {
			dropped += n
		}
		fmt.Fprintf(bw, "  async (budget %d): input lag of state maps mean %.2f max %d, of error maps mean %.2f max %d; %d inputs came too late; %d of %d batches stopped by the wall clock\n",
			a.Budget, a.MeanStateLag, a.MaxStateLag, a.MeanErrorLag, a.MaxErrorLag, dropped, a.Stopped, rt.Batches)
	}
	for _, n := range sortedKeys(rt.PerNode) {
		c := rt.PerNode[n]
		fmt.Fprintf(bw, "  node %s: %d messages, %s\n", n, c.Msgs, HumanBytes(float64(c.Bytes)))
	}
	return bw.Flush()
}

// joinCounts renders "k1: n1, k2: n2" in key order.
func joinCounts(m map[string]uint64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
