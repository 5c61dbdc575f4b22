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
// The asynchronous mode (actors firing on arrival) is not implemented yet.
package circuit
