// Package circuit says what is wired to what in an NGC circuit and runs it
// as actors: every feature map's state population and error population
// (package neuron) is a goroutine that talks to the others only through
// messages on a bus (package bus: in-process channels or NATS).
//
// A Graph is any circuit of convolutional state layers (ConvNGC builds the
// paper's stack from an ngc.Config; LoadGraph reads JSON; a layer may be
// predicted by several layers). A Circuit adds parameters (FromModel copies
// a batched ngc.Model's). A Placement assigns populations to nodes.
//
// Start subscribes the populations a node hosts and, unless Worker is
// given, a coordinator. RunBatch feeds a mini-batch (clamps the image maps,
// initialises the top maps) and gathers the prediction, the energy of every
// layer at every step and, when learning, waits until every local update is
// done. The run is a synchronous dataflow: every message is tagged with its
// mini-batch and step, each population waits for exactly the inputs its
// in-degree implies, and a stale, duplicate or misrouted message is a
// protocol error — so the actors reproduce the batched reference (tests
// compare outputs, energies and weights after several training batches).
// A run that makes no progress within the timeout fails with ErrLost,
// naming the nodes that stopped sending heartbeats or the error maps that
// fell behind, never hangs.
//
// With the Async option the same populations run asynchronously
// (neuron.AsyncStatePop, neuron.AsyncErrorPop): every actor keeps the latest
// value from each sender with its version and fires whenever something new
// has arrived; state maps spend a budget of corrections per mini-batch,
// optionally under a staleness bound (MaxLag) and a wall-clock bound, and
// per-link delays can be injected (LinkDelay). Every actor reports its
// updates, messages, bytes and the version lag of the inputs it used
// (AsyncReport); the coordinator records the total discrepancy over wall
// time. Learning works in both modes: tied (weight transport after the
// window) and untied (E learnt inside the state maps).
//
// A graph with residual blocks (the paper's Appendix C, graph.Block) runs
// in the synchronous runtime with the dense encoding: each intermediate map
// of a block is a population of its own (neuron.BlockPop), holding its
// column of the stage's kernels W_k and its row of the next stage's error
// kernels E_{k+1}, and the actors reproduce the batched reference's
// inference and learning (see blocks.go). The asynchronous runtime and the
// sigma-delta encoding refuse such a circuit with ErrBlocks.
//
// Circuit.Encoding says how the populations' map messages travel, in every
// driver that builds them from the circuit (sessions in both modes, and
// Populations for hwsim's virtual clock): dense, or sigma-delta
// (neuron.Encoding), whose messages travel as delta frames (bus.Delta) and
// whose receivers update their sums by the changes. With θ = 0 a
// synchronous sigma-delta run is bit for bit the dense one. A session
// counts its populations' synaptic operations (Session.SynapticOps).
package circuit
