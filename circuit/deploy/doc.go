// Package deploy runs a Conv-NGC model's actor circuit (package circuit)
// over one or many processes: a coordinator (Run) feeds the images of a data
// set through the actors in mini-batches, gathers outputs, energies and the
// runtime's counters, and measures the paper's metrics; workers (Work) host
// the populations a placement gives their node. It is the library behind
// `ngc run` and `ngc worker`.
//
// In one process, Run needs nothing but a model and the images:
//
//	rep, err := deploy.Run(ctx, model, set)
//
// Across processes or machines, every node connects to one NATS server
// (bus.Connect, or bus.StartEmbedded for a server inside the coordinator),
// the coordinator is given the bus, a placement and the run's id, and each
// worker joins with its node name:
//
//	rep, err := deploy.Run(ctx, model, set, deploy.WithBus(b), deploy.WithPlacement(p), deploy.WithRunID("cm1"))
//	err := deploy.Work(ctx, b, "cm1", "w1")
//
// Workers need no model file: a worker asks the coordinator for the run's
// Manifest (graph, parameters, config, placement, task, mode, batch size,
// time bound) and builds its share of the circuit from it, so the nodes
// cannot disagree about what they run.
//
// # Protocol
//
// Besides the actors' own subjects (see package circuit), the processes of
// a run use these control subjects, carried as plain NATS messages with JSON
// bodies:
//
//	<run>.ctl.deploy.manifest        request/reply: a worker names its node (JoinRequest),
//	                                 the coordinator answers with the Manifest or a refusal
//	<run>.ctl.deploy.alive           the coordinator's beacon, every AliveEvery (its instance)
//	<run>.ctl.deploy.batch           the coordinator finished a mini-batch (BatchNote)
//	<run>.ctl.deploy.stats.<node>    request/reply: a worker's bus counters (NodeStats)
//	<run>.ctl.deploy.failed.<node>   a worker stopped on an error or an interrupt (EndNote)
//	<run>.ctl.deploy.refused.<node>  a worker refused the manifest (version mismatch; EndNote)
//	<run>.ctl.deploy.end             the run is over, workers leave (EndNote)
//
// # Failures
//
// Nothing is waited on without a bound. A coordinator that hears another
// coordinator's beacon on its run id refuses to start (ErrRunInUse). While
// it waits for workers it logs, every JoinReminder, which nodes have not
// joined, and it logs every refused worker. A node that falls silent fails
// the run within the timeout naming the node; a message lost in a
// synchronous run is first re-requested from its sender (circuit: the
// senders of the stalled step re-send what they hold) and, if the step still
// does not complete, fails the run naming the missing link (circuit.ErrLost).
//
// # Journal and resumption
//
// With WithJournal, the coordinator records every completed mini-batch in a
// directory, atomically: its outputs, energies and counters and, when
// learning, the parameters and Adam state after it. WithResume continues a
// failed run from its last completed mini-batch; a synchronous run resumed
// this way ends with the same metrics and kernels, bit for bit, as a run
// that was never interrupted.
//
// # Encodings
//
// WithEncoding sends the map messages dense (the default) or sigma-delta
// (neuron.Encoding); the manifest carries it to the workers and the journal
// records it. Runtime reports the traffic and the synaptic operations of
// every node, and both per image and step of the window (PerImageStep), the
// figures encodings are compared by.
//
// # Observability
//
// WithLogger sends the coordinator's and workers' events to a log/slog
// logger; WithProgress reports every step of every mini-batch; NewMetrics
// registers Prometheus collectors (frames and bytes by kind, steps per
// second, input lag, rejected frames, heartbeat age, batch progress, energy
// per layer) that Run and Work keep current.
package deploy
