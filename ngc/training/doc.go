// Package training runs long Conv-NGC training jobs that a user can leave
// running for hours: budgets, periodic validation, early stopping,
// checkpoints, resumption and a learning curve kept on disk as it grows.
//
// A [Job] trains a [ngc.Model] on a training set, one mini-batch update at a
// time, in the order [ngc.EpochOrder] gives every epoch. After every
// ValidateEvery updates it measures the reconstruction metrics of a fixed
// validation set, keeps the best model so far beside the latest, and stops
// early when the validation MSE has not improved by MinImprovement (relative)
// over Patience validations. Every CheckpointEvery updates or
// CheckpointInterval of wall time, and when the job ends for any reason but
// a divergence, it writes the latest checkpoint atomically (a temporary file
// renamed over the old one).
//
// A checkpoint is a safetensors file that [ngc.Load] reads as a model; its
// metadata also holds the job's [State] under [MetadataKey]: the update and
// epoch counters, the position within the epoch, the position of the
// model's random stream, the data the job trains on, the early-stopping
// bookkeeping and the curve so far. [Resume] reads it back, and a job resumed
// from any checkpoint ends with the very model, bit for bit, that the
// uninterrupted job would have ended with: the data order of every epoch is
// recomputed from the seed and the epoch number, the random stream continues
// where it stopped, and the optimiser's moments travel in the file.
//
// A NaN or infinite energy or parameter stops a job at once with an error
// wrapping [ngc.ErrDiverged] that names the update and the layer; the
// diverged model is never written, so the last checkpoint stays good.
package training
