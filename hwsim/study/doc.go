// Package study asks two questions of a trained Conv-NGC model: what would
// its actor circuit cost on neuromorphic hardware, and how do its dynamics
// behave in virtual time, lock-step (sync) and firing on arrival (async)?
// It is what `ngc hwsim` runs, as a library.
//
// Run builds the model's actor circuit (package circuit: every feature
// map's state and error population), maps it onto each architecture's cores
// (hwsim.Map), and drives the populations with hwsim's discrete-event engine
// on real images: reconstruction, T steps, every mini-batch of the set, once
// per dynamics (Options.Modes). Link latencies come from mesh hops, compute
// times from the counted events, with seeded jitter, so a study is
// reproducible to the bit from its seed. It then runs one training batch
// (sync, tied or untied as the model) on each architecture and prices every
// count with the architecture's sourced per-event costs (hwsim.Estimate).
// Unless Options.SkipReference is set, it also times the batched reference
// (package ngc) on the same batches on this CPU and prices the wall time
// with the CPU architecture's package power (hwsim.EstimateWallTime).
//
// With Options.Encoding sigma-delta, every mode and the training batch run
// twice on the same images, with dense and with sigma-delta messages
// (neuron.Encoding): each architecture then has a sigma-delta row beside
// the dense one in the energy and latency table, and the report gives both
// runs' messages, values, bytes and synaptic operations per image and step.
//
// The result is a Report, whose JSON form is `ngc hwsim`'s hwsim.json;
// Report.WriteText prints its tables and WritePlots draws its curves and
// the energy chart as PNG files.
//
//	m, _ := ngc.Load("model.safetensors")
//	set, _ := data.Load(ctx, data.Options{Dataset: "color-mnist", Split: data.Test, MaxImages: 16})
//	targets, _ := study.LoadTargets([]string{"loihi", "cpu"})
//	rep, err := study.Run(ctx, m, set, study.Options{Targets: targets, MaxLag: 2, Jitter: 0.25})
//
// A failure to fit an architecture (hwsim.ErrDoesNotFit) is not an error of
// the study: that architecture's entry carries the message and no runs.
package study
