// Package hwsim says what a Conv-NGC circuit would cost on neuromorphic
// hardware: it maps the circuit's populations (every feature map's state
// population and error population) onto the cores of an architecture, and
// turns counted events — messages, synaptic operations, neuron updates,
// weight updates, barriers — into energy and latency, every per-event cost
// carrying its source.
//
// The cost model depends on no other package of the module: a caller fills
// its small input types (Population, Link, Circuit, Counts). The
// virtual-time engine (Engine) imports package neuron, whose populations it
// drives; it never imports circuit or bus — the caller hands it the
// populations and the routing (circuit.(*Circuit).Populations and
// Receivers).
//
// # Architectures as data
//
// An Arch is a JSON file. Five are built in — "loihi", "loihi2",
// "truenorth", "spinnaker" and "cpu" — and Load takes one of those names or
// the path of a file of the same form (ArchFile returns a built-in's text to
// copy and edit). Every number is a Param: value in SI units (J, s, W,
// bits), unit, source (paper and table or figure), provenance and whether
// the figure was found in a public copy of the source when the file was
// written (Verified; the note says what was and was not checked). The
// provenance tags are specified (a design figure of the chip), measured,
// simulated, derived (the note shows the arithmetic) and assumed (no
// published figure found; the note states the assumption). Loading
// validates everything: a missing field, a negative or non-finite number, a
// fraction where a count is meant, a missing source or an unknown key gives
// a *ValidationError naming the file and each field. Arch.Params lists all
// numbers, which is the sources table.
//
// Some sources give only a whole-chip figure (TrueNorth's energy per
// synaptic event, SpiNNaker's board power over its synaptic event rate).
// Such files fold neuron updates, routing and static power into the
// synaptic-operation cost and set those to 0, so nothing is counted twice;
// their notes say so.
//
// # Graded values on spiking hardware
//
// Conv-NGC maps exchange real values. An architecture's values section
// says how they travel:
//
//   - graded (Loihi 2, SpiNNaker, CPU): one packet carries one value in a
//     payload of payload_bits; one algorithmic step is one hardware time
//     step;
//   - rate (Loihi, TrueNorth): binary spikes; the magnitude is the spike
//     count in a window of ticks_per_step hardware time steps (15 for a
//     4-bit magnitude) and the sign selects one neuron of an on/off pair
//     (neurons_per_unit = 2). A value costs spikes_per_value packets and
//     synaptic events on average (7.5 for magnitudes spread evenly; edit it
//     to a measured mean), every unit's neurons update every tick, and each
//     step takes 15 hardware time steps.
//
// Arch.ValueBits gives the signed resolution a population's values have on
// an architecture, and Quantize applies it to float32 data; with
// EngineConfig.ValueBits the virtual-time engine quantises every map
// message that way, so that a run measures what the representation does to
// accuracy (`ngc hwsim --quantize`). Quantize
// uses a signed fixed-point code with a caller-chosen full scale; 32 bits
// is exact (the float32 travels as the payload).
//
// # Mapping
//
// Map places populations in circuit order, greedily, filling each core as
// far as its neurons, synapse memory and (by default) axon limits allow; a
// population that does not fit an empty core is split over several cores,
// and a split population starts on a fresh core. Cores fill chips, and chips
// fill a square-ish 2-D mesh, each along a serpentine path so that
// consecutive cores — and so linked populations listed next to each other —
// are neighbours. Per-image sizes are used throughout: hardware processes
// one image at a time, so a map of H×W pixels is H·W units whatever the
// mini-batch.
//
// Weights: with the shared layout (Loihi 2, the CPU) a core keeps
// one copy of the kernels of each population part it hosts, so a population
// split over k cores stores its kernels k times; with the unrolled layout
// (Loihi's explicit synapses, TrueNorth's crossbar, SpiNNaker's synaptic
// rows) every connection — every multiply-accumulate of a step — is a
// stored weight. Mapping.Replication is stored over distinct weights: the
// number of stored weights one kernel-tap update must write.
//
// Axons: a core needs one input axon per distinct source value its parts
// receive (a part of k of N units takes k/N of each incoming message, halo
// rows ignored) and one output axon per unit per destination core. Where a
// neuron can reach only neuron_fan_out cores (TrueNorth: one), units that
// must reach more get splitter copies. Map reports, per core, input and
// output axons against the limits (Violations), neurons and synapse-memory
// utilisation, and hop counts per link: Manhattan distance on the global
// core mesh, plus chip-boundary crossings (for a router interconnect, only
// the latter). It fails with ErrDoesNotFit when one unit, or one copy of a
// population's kernels, exceeds an empty core, or the chips run out. The
// mapping is deterministic.
//
// # Estimates
//
// Estimate prices Counts on a Mapping. Counts are summed over the images
// they cover (Images): a mini-batch of B images run T steps has Steps = B·T
// and B·H·W values per batched message. Each count becomes hardware events
// (× spikes per value, × ticks per step and neurons per unit, × mean hops,
// × replication) priced per event; static power is paid per used chip for
// the estimated latency. Latency takes the busiest core's share of work
// (cores run in parallel), packet transit along the longest route and a
// barrier for every hardware time step, and at least the architecture's
// tick per time step. Both are linear in the counts. The Cost breaks energy
// down by Kind and latency by phase, and lists in Warnings what it leaves
// out.
//
// For the CPU there is a second path, EstimateWallTime: a measured wall time
// times the package power. The event path (arithmetic and first-level cache
// traffic, Horowitz 2014) is a lower bound; the wall-time path is what the
// machine actually draws, within the stated power assumption.
//
// # Analytic counts
//
// The counts come from the circuit's one description, a *graph.Graph
// (package ngc/graph, which the batched reference and the actor runtime
// consume too): any layers and synapses, skip synapses and residual blocks,
// whose intermediate maps are populations of their own. PaperNetwork is the
// paper's (channels 10, 15, 20, 25, 3 and maps 2, 4, 8, 16, 32 from the
// top; 3×3 kernels, stride 2). CircuitOf builds a graph's actor circuit (73
// state maps and 63 error maps for the paper), and PhasesOf,
// InferenceCounts and TrainingCounts give exact event counts for checking
// the runtime's probes. Per image and step, one direction of layer ℓ costs
// C_ℓ·C_{ℓ−1}·9·H_ℓ·W_ℓ multiply-accumulates, padding taps included — the
// prediction (transposed convolution) and the feedback (strided
// convolution) each — 1,018,800 in all for the paper's network; 18,952 unit
// updates (10,992 error, 7,960 free state units), and 2,173 messages with
// 301,912 values under reconstruction.
//
// # Virtual time
//
// Engine is a deterministic discrete-event simulator that runs a mapped
// circuit's populations — the same neuron.StatePop and neuron.ErrorPop code
// the goroutine runner drives — from a priority queue of timed deliveries.
// A link's latency is the largest mesh and chip distance between the
// cores of its two populations times the hop latencies, plus the per-packet
// latency; an update takes its counted events times the per-event latencies
// on the population's busiest core; a seeded PCG generator adds jitter.
// SyncDynamics runs the synchronous dataflow (it reproduces the batched
// reference); AsyncDynamics lets populations fire on arrival with the latest
// inputs (neuron.AsyncStatePop, neuron.AsyncErrorPop), under a budget and
// an optional staleness bound. The same seed gives the same run, bit for
// bit. RunBatch counts events per phase (initialisation, every step or
// version, readout, learning) as Counts for Estimate, records the total
// discrepancy and the reconstruction error at every probe against virtual
// time and messages sent, and reports per-population counts and the
// staleness histograms.
//
// # Sigma-delta messages
//
// Populations built with the sigma-delta encoding (circuit.Circuit.Encoding,
// neuron.Encoding) send only the units that moved by more than a threshold,
// and their receivers update their sums by the changes. The engine prices
// what they do: a message's values are its non-zero deltas (Loihi 2's graded
// spikes carry one each, natively; on Loihi and TrueNorth a delta becomes
// spikes_per_value spikes, as a value does), it counts as a message for the
// images it carries a delta for, and an update's synaptic operations — and
// so its energy and its time — are those of the changed units' taps. With
// threshold 0 the synchronous dynamics are bit for bit the dense ones.
package hwsim
