// Package bench measures the speed of Conv-NGC's runtimes: the batched
// reference (package ngc) alone, and sync inference in the batched
// reference, the actor runtime on the in-process bus and the actor runtime
// on NATS side by side. It is what `ngc bench` runs, as a library; the
// reports (BatchedReport, RuntimeReport, ScalingReport) measure and render
// themselves as `ngc bench` prints and writes them.
//
// Batched times one inference batch and one training batch of a network
// (the paper's by default) on synthetic images, once to warm up and then
// Repeats times, and reports the best repeat: images per second and
// effective GFLOP/s (convolution FLOPs only, 2 per multiply-accumulate).
//
// Runtimes runs one batch of the network in every runtime in turn per
// repeat, so that all see the same machine load; each batch is charged a
// garbage collection of what it left. An actor batch runs in a sync session
// started for it and closed after it (untimed): one session is alive at a
// time, so the peak memory is one runtime's. It reports the best and the median repeat, the ratio to the batched
// reference, process CPU seconds per batch and the bus traffic.
//
// MeasurePeak times the machine's FP32 FMA peak (package ngc/tensor's
// register-resident kernels, every thread at once), the yardstick the
// effective GFLOP/s are a share of; Peak.Again measures once more and keeps
// the better figures. CPUTime, LoadAverage and PeakRSS read the process's
// and the machine's state, where the platform tells.
//
// Every figure here is wall-clock: run on a quiet machine.
package bench
