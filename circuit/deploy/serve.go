package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/convngc/convngc/circuit"
)

// serve answers the workers' manifest requests, listens for their failure
// and refusal reports and beats the coordinator's alive beacon.
func (co *coordinator) serve() error {
	body := encodeJSON(co.man)
	if limit := co.nc.MaxPayload(); int64(len(body)) > limit {
		return fmt.Errorf("%w: the manifest (%s) exceeds the NATS server's max payload (%s)", ErrConfig, HumanBytes(float64(len(body))), HumanBytes(float64(limit)))
	}
	run := co.cfg.run
	handlers := []struct {
		subject string
		h       nats.MsgHandler
	}{
		{subject(run, "manifest"), func(msg *nats.Msg) { co.answerJoin(msg, body) }},
		{subject(run, "failed", "*"), func(msg *nats.Msg) {
			n, node := co.note(msg, "failed")
			select {
			case co.failure <- fmt.Errorf("%w: node %s stopped: %s", circuit.ErrLost, node, n.Error):
			default:
			}
		}},
		{subject(run, "alive"), func(msg *nats.Msg) {
			// Two coordinators that started together both found the id
			// free: both stop rather than mix their runs.
			if other := string(msg.Data); other != co.self {
				select {
				case co.failure <- fmt.Errorf("%w: %s serves run %q too; choose another --run", ErrRunInUse, other, run):
				default:
				}
			}
		}},
		{subject(run, "refused", "*"), func(msg *nats.Msg) {
			n, node := co.note(msg, "refused")
			co.log.Warn("a worker refused the run", "node", node, "reason", n.Error)
		}},
	}
	for _, h := range handlers {
		sub, err := co.nc.Subscribe(h.subject, h.h)
		if err != nil {
			return fmt.Errorf("deploy: subscribe %s: %w", h.subject, err)
		}
		co.subs = append(co.subs, sub)
	}
	co.wg.Add(1)
	go co.beacon()
	return nil
}

// note decodes a worker's EndNote and names the node from the subject.
func (co *coordinator) note(msg *nats.Msg, kind string) (EndNote, string) {
	var n EndNote
	if json.Unmarshal(msg.Data, &n) != nil {
		n.Error = "unreadable report"
	}
	return n, strings.TrimPrefix(msg.Subject, subject(co.cfg.run, kind)+".")
}

// beacon publishes the coordinator's alive beacon until stop.
func (co *coordinator) beacon() {
	defer co.wg.Done()
	t := time.NewTicker(AliveEvery)
	defer t.Stop()
	for {
		_ = co.nc.Publish(subject(co.cfg.run, "alive"), []byte(co.self))
		select {
		case <-co.stop:
			return
		case <-t.C:
		}
	}
}

// answerJoin answers one worker's request for the manifest, or refuses it
// (and says so in the coordinator's log too).
func (co *coordinator) answerJoin(msg *nats.Msg, body []byte) {
	var req JoinRequest
	refuse := func(format string, args ...any) {
		why := fmt.Sprintf(format, args...)
		co.log.Warn("refused a worker", "node", req.Node, "worker", req.Instance, "reason", why)
		_ = msg.Respond(encodeJSON(Manifest{Error: why}))
	}
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		refuse("unreadable join request (run the same ngc build everywhere)")
		return
	}
	if req.Version != 0 && req.Version != ManifestVersion {
		refuse("worker speaks manifest version %d, the coordinator %d (run the same ngc build everywhere)", req.Version, ManifestVersion)
		return
	}
	hosts := map[string]bool{}
	for _, n := range co.remote {
		hosts[n] = true
	}
	if !hosts[req.Node] {
		refuse("run %q places no actor on node %q (worker nodes: %s)", co.cfg.run, req.Node, strings.Join(co.remote, ", "))
		return
	}
	co.mu.Lock()
	first, prev := co.joined[req.Node] == "", co.joined[req.Node]
	if first {
		co.joined[req.Node] = req.Instance
	}
	co.mu.Unlock()
	if !first && prev != req.Instance {
		// A second process for one node would run its actors twice.
		refuse("node %s already joined run %q from %s", req.Node, co.cfg.run, prev)
		return
	}
	if err := msg.Respond(body); err != nil {
		co.log.Error("could not send the manifest", "node", req.Node, "err", err)
		return
	}
	if first {
		co.log.Info(fmt.Sprintf("node %s joined", req.Node), "node", req.Node, "worker", req.Instance)
	}
	select {
	case co.joinCh <- struct{}{}:
	default:
	}
}

// missing lists the worker nodes that have not joined.
func (co *coordinator) missing() []string {
	co.mu.Lock()
	defer co.mu.Unlock()
	var out []string
	for _, n := range co.remote {
		if co.joined[n] == "" {
			out = append(out, n)
		}
	}
	return out
}

// waitJoin waits until every worker node has fetched the manifest, saying
// every JoinReminder which have not.
func (co *coordinator) waitJoin(ctx context.Context) error {
	if len(co.missing()) == 0 {
		return nil
	}
	bound := co.cfg.joinTimeout
	co.log.Info(fmt.Sprintf("waiting up to %v for workers %s (ngc worker --bus URL --run %s --node NAME)", bound, strings.Join(co.missing(), ", "), co.cfg.run),
		"nodes", co.missing())
	start := time.Now()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	remind := time.NewTicker(co.cfg.remind)
	defer remind.Stop()
	for {
		left := co.missing()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deploy: interrupted while waiting for workers: %w", ctx.Err())
		case <-timer.C:
			return fmt.Errorf("%w: node %s did not join run %q within %v", circuit.ErrLost, strings.Join(left, ", "), co.cfg.run, bound)
		case <-remind.C:
			co.log.Info(fmt.Sprintf("still waiting for workers %s (%v of %v)", strings.Join(left, ", "), time.Since(start).Round(time.Second), bound),
				"nodes", left)
		case err := <-co.failure:
			return err
		case <-co.joinCh:
		}
	}
}
