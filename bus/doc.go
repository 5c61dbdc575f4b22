// Package bus is the transport of the Conv-NGC actor runtime: every state
// and error population of a feature map is an actor, and actors talk only
// by publishing Frames on subjects of a Bus.
//
// # Frames
//
// A Frame is one feature map of a whole mini-batch — Payload holds B·H·W
// float32s, row-major, described by Shape — plus a header: run id, sender,
// Kind (state, error, weights, control, output, probe, or any other uint8),
// and Step (the step in sync mode, the sender's version in async mode).
//
// # Buses
//
// Two implementations of the Bus interface behave alike:
//
//   - InProc (NewInProc) hands frame pointers through bounded channels, one
//     per subscription, with no serialisation. A full queue blocks the
//     publisher until its context ends (backpressure).
//   - NATS (Connect) sends binary frames through a NATS server, so actors
//     can run in other processes or on other machines. A full queue drops
//     frames, counts them and reports ErrSlowConsumer: NATS core delivery
//     is at most once, and the runtime must detect loss from step tags.
//
// Both deliver the frames of one publisher in order, run each
// subscription's handler on its own goroutine, count messages and bytes
// per sender and kind (Stats), and report what no call can return —
// rejected frames, slow consumers, lost connections — to the function given
// with WithErrorHandler. Published frames are immutable: the publisher
// gives up ownership, receivers read but never write (WithVerify checks
// this in tests).
//
// StartEmbedded runs a NATS server inside the process (loopback, random
// port, max payload raised to fit large frames); Embedded.Connect reaches
// it through an in-memory pipe, with no TCP at all.
//
// # Subjects
//
// Maps publish on "<run>.z.<layer>.<map>" (states) and
// "<run>.e.<layer>.<map>" (errors); the coordinator uses "<run>.ctl.…".
// StateSubject, ErrorSubject and ControlSubject build and validate them.
// Subscriptions take NATS wildcards: "r1.z.>" is every state map of run
// r1, "r1.*.1.*" every map of layer 1.
//
// # Wire format
//
// AppendFrame and Decode implement the binary frame: magic "NGCF" and a
// version byte, little-endian fixed fields, length-prefixed strings, the
// shape, the uncompressed and stored payload lengths, CRC-32C checksums of
// the payload and of the header, then the payload as little-endian
// float32s, snappy-compressed when that pays (Compression). A frame with
// Delta set belongs to a sigma-delta stream (package neuron's encodings):
// its header adds the stream's sequence number and a reset mark, and its
// payload holds either every unit's value or, sparse, an index list of
// varint gaps followed by the listed units' changes. Decoding is
// defensive: every declared size (a sparse frame's entries included) is
// checked against Limits before anything is allocated, and errors are *FrameError values that name the sender
// whenever the header could be read that far. AppendFrame appends to a
// caller's buffer, and Decoder.DecodeInto reuses a frame, so a steady
// stream allocates nothing. On little-endian hosts a payload's float32s
// already have the wire layout: encoding and decoding copy each payload
// once, and the NATS bus turns a received message (its client's private
// copy) into a frame whose payload uses that copy in place, after the same
// checks.
package bus
