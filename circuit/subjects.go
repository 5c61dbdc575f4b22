package circuit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/neuron"
)

// Subjects of a run (tokens after "<run>."):
//
//	z.<l>.<i>      state z of map i of layer l          (KindState)
//	phi.<l>.<i>    φ(z) of that map                      (KindPhi)
//	e.<l>.<j>      error of map j of layer l            (KindError)
//	pred.<l>.<j>   ancestral prediction for state map   (KindPred)
//	w.<l>.<j>      kernels of error map j after learning (KindWeights)
//	clamp.<l>.<i>  input of an image map                (KindClamp, from the coordinator)
//	init.<l>.<i>   initial value of a top map           (KindInit, from the coordinator)
//	out.<l>.<j>    prediction of an image map           (KindOutput, to the coordinator)
//	probe.<l>.<j>  energy of an error map at a step     (KindProbe, to the coordinator)
//	h.<s>.<k>.<i>  activity of map i of stage k of the residual block of synapse s (KindHidden)
//	d.<s>.<k>.<i>  its perturbation                      (KindPerturb)
//	done.<z|e>.<l>.<i>  a population finished learning  (KindDone, to the coordinator;
//	               done.h.<s>.<k>.<i> for a block's map, and so for dump, stats and waiting)
//	ctl.hb.<node>  a node's heartbeat; ctl.dump: parameter request; dump.<z|e>.<l>.<i>: the reply
//	ctl.stop       end an asynchronous batch's corrections (wall-clock bound)
//	stats.<z|e>.<l>.<i>  an asynchronous actor's counts for a batch
//	ctl.resend     publish again what you last sent (repair of a lost message, sync)
//	ctl.waiting    say what you wait for; waiting.<z|e>.<l>.<i>: the answer
var kindTokens = map[neuron.Kind]string{
	neuron.KindState: "z", neuron.KindPhi: "phi", neuron.KindError: "e", neuron.KindPred: "pred",
	neuron.KindWeights: "w", neuron.KindClamp: "clamp", neuron.KindInit: "init", neuron.KindOutput: "out",
	neuron.KindProbe: "probe", neuron.KindDone: "done", neuron.KindHidden: "h", neuron.KindPerturb: "d",
}

// Runner-level kinds (not population messages): a parameter dump, an
// asynchronous actor's statistics of a batch, and the coordinator's stop
// (the wall-clock bound of an asynchronous batch).
const (
	kindDump  neuron.Kind = 100
	kindStats neuron.Kind = 101
	kindStop  neuron.Kind = 102
	// kindResend asks a synchronous actor to publish again what it last
	// sent (the coordinator's repair of a lost message).
	kindResend neuron.Kind = 103
	// kindWaiting asks an actor (control) or carries its answer (to the
	// coordinator): the step it is at and the inputs it lacks.
	kindWaiting neuron.Kind = 104
)

var tokenKinds = func() map[string]neuron.Kind {
	m := map[string]neuron.Kind{"dump": kindDump, "stats": kindStats, "waiting": kindWaiting}
	for k, t := range kindTokens {
		m[t] = k
	}
	return m
}()

func busKind(k neuron.Kind) bus.Kind {
	switch k {
	case neuron.KindState, neuron.KindPhi, neuron.KindPred, neuron.KindClamp, neuron.KindInit:
		return bus.KindState
	case neuron.KindHidden:
		return bus.KindState
	case neuron.KindError, neuron.KindPerturb:
		return bus.KindError
	case neuron.KindWeights, kindDump:
		return bus.KindWeights
	case kindStats, kindWaiting:
		return bus.KindProbe
	case neuron.KindOutput:
		return bus.KindOutput
	case neuron.KindProbe:
		return bus.KindProbe
	}
	return bus.KindControl
}

func roleToken(r neuron.Role) string {
	switch r {
	case neuron.ErrorRole:
		return "e"
	case neuron.BlockRole:
		return "h"
	}
	return "z"
}

// subjectOf is where a message of kind k about map ref is published.
func subjectOf(run string, k neuron.Kind, ref neuron.Ref) string {
	l, i := strconv.Itoa(ref.Layer), strconv.Itoa(ref.Index)
	if ref.Role == neuron.BlockRole {
		// A block's map: <synapse>.<stage>.<map>.
		l += "." + strconv.Itoa(ref.Stage)
	}
	switch k {
	case kindDump:
		return run + ".dump." + roleToken(ref.Role) + "." + l + "." + i
	case kindStats:
		return run + ".stats." + roleToken(ref.Role) + "." + l + "." + i
	case kindWaiting:
		return run + ".waiting." + roleToken(ref.Role) + "." + l + "." + i
	case neuron.KindDone:
		return run + ".done." + roleToken(ref.Role) + "." + l + "." + i
	}
	return run + "." + kindTokens[k] + "." + l + "." + i
}

// parseSubject recovers the kind and the map a subject names.
func parseSubject(subject string) (neuron.Kind, neuron.Ref, error) {
	tok := strings.Split(subject, ".")
	if len(tok) < 4 {
		return 0, neuron.Ref{}, fmt.Errorf("circuit: subject %q is not a map subject", subject)
	}
	k, ok := tokenKinds[tok[1]]
	if !ok {
		return 0, neuron.Ref{}, fmt.Errorf("circuit: subject %q: unknown kind %q", subject, tok[1])
	}
	rest := tok[2:]
	role := neuron.StateRole
	switch k {
	case neuron.KindDone, kindDump, kindStats, kindWaiting:
		if len(rest) < 3 {
			return 0, neuron.Ref{}, fmt.Errorf("circuit: subject %q: want <role>.<layer>.<map>", subject)
		}
		switch rest[0] {
		case "e":
			role = neuron.ErrorRole
		case "h":
			role = neuron.BlockRole
		}
		rest = rest[1:]
	case neuron.KindError, neuron.KindPred, neuron.KindWeights, neuron.KindOutput, neuron.KindProbe:
		role = neuron.ErrorRole
	case neuron.KindHidden, neuron.KindPerturb:
		role = neuron.BlockRole
	}
	want := 2
	if role == neuron.BlockRole {
		want = 3
	}
	if len(rest) != want {
		if want == 3 {
			return 0, neuron.Ref{}, fmt.Errorf("circuit: subject %q: want <synapse>.<stage>.<map>", subject)
		}
		return 0, neuron.Ref{}, fmt.Errorf("circuit: subject %q: want <layer>.<map>", subject)
	}
	var n [3]int
	for j, t := range rest {
		v, err := strconv.Atoi(t)
		if err != nil || v < 0 {
			return 0, neuron.Ref{}, fmt.Errorf("circuit: subject %q: bad layer or map", subject)
		}
		n[j] = v
	}
	if role == neuron.BlockRole {
		if n[1] < 1 {
			return 0, neuron.Ref{}, fmt.Errorf("circuit: subject %q: stages count from 1", subject)
		}
		return k, neuron.Ref{Role: role, Layer: n[0], Stage: n[1], Index: n[2]}, nil
	}
	return k, neuron.Ref{Role: role, Layer: n[0], Index: n[1]}, nil
}

// A frame's Step carries the mini-batch in its high 32 bits and the step
// in the low 31; the top bit of the low half marks a resent message.
const resentBit = 1 << 31

func tag(batch, step int) uint64 { return uint64(batch)<<32 | uint64(uint32(step)&^resentBit) }

func tagResent(batch, step int) uint64 { return tag(batch, step) | resentBit }

func untag(t uint64) (batch, step int) { return int(t >> 32), int(uint32(t) &^ resentBit) }

func resent(t uint64) bool { return t&resentBit != 0 }
