package study

import "github.com/convngc/convngc/hwsim"

// Report is a study's result; its JSON form is `ngc hwsim`'s hwsim.json.
type Report struct {
	// Command and Model say what made the report (the command line and
	// the model file); Run leaves them for the caller to fill.
	Command []string `json:"command"`
	Model   string   `json:"model"`
	// Dataset names the images; Images is how many ran (full mini-batches
	// of Batch), each for Steps inference steps.
	Dataset string `json:"dataset"`
	Images  int    `json:"images"`
	Batch   int    `json:"batch"`
	Steps   int    `json:"T"`
	// Jitter, JitterSeconds, Seed, Budget (the model's T when the options
	// gave 0) and MaxLag are the virtual-time settings.
	Jitter        float64 `json:"jitter"`
	JitterSeconds float64 `json:"jitter_seconds"`
	Seed          uint64  `json:"seed"`
	Budget        int     `json:"budget"`
	MaxLag        int     `json:"max_lag"`
	// Fire is the async state maps' firing rule: "own-error" or "arrival".
	Fire string `json:"fire"`
	// Populations and Links count the actor circuit; Tied says whether the
	// error pathway uses the transposed kernels Wᵀ.
	Populations int  `json:"populations"`
	Links       int  `json:"links"`
	Tied        bool `json:"tied"`
	// Encoding is the message encoding compared against dense
	// (Options.Encoding), "" when the study ran dense only.
	Encoding string `json:"encoding,omitempty"`
	// Reference is the batched reference as measured on this CPU (nil
	// with Options.SkipReference).
	Reference *ReferenceReport `json:"cpu_batched_reference"`
	// Archs has one entry per target, in order.
	Archs []ArchReport `json:"archs"`
}

// ArchReport is the circuit mapped onto one architecture and run on it.
type ArchReport struct {
	Arch   string `json:"arch"`
	Source string `json:"source"`
	// Error says why the circuit does not fit (hwsim.ErrDoesNotFit); the
	// entry then has no runs.
	Error string `json:"error,omitempty"`
	// The mapping: cores and chips used, populations split over several
	// cores, neuron and synapse-memory utilisation, axon limit
	// violations, mesh hops per link.
	Cores       int     `json:"cores"`
	Chips       int     `json:"chips"`
	Split       int     `json:"split_populations"`
	NeuronUtil  float64 `json:"neuron_utilization"`
	SynapseUtil float64 `json:"synapse_utilization"`
	Violations  int     `json:"axon_violations"`
	MeanHops    float64 `json:"mean_hops"`
	MaxHops     int     `json:"max_hops"`
	// ValueBits is the width every map message was quantised to: 0
	// without Options.Quantize, and 32 (also exact: the float32 itself)
	// where the architecture and Options.ValueBits allow a full word.
	ValueBits int `json:"value_bits"`
	// Runs has one reconstruction run per mode, in Options.Modes order,
	// and within a mode one per encoding (dense, then Options.Encoding).
	Runs []ModeReport `json:"runs"`
	// Training is the one training batch, dense (nil when the circuit does
	// not fit); TrainingEncoded the same batch under Options.Encoding.
	Training        *TrainReport `json:"training,omitempty"`
	TrainingEncoded *TrainReport `json:"training_encoded,omitempty"`
}

// ModeReport is reconstruction of every mini-batch under one dynamics.
type ModeReport struct {
	// Mode is the dynamics, "sync" or "async"; Encoding how the messages
	// travelled ("dense", "sigma-delta θ=…").
	Mode     string `json:"mode"`
	Encoding string `json:"encoding"`
	// Counts are the inference events of every image run, Cost their
	// estimate on the architecture; EnergyPerImage and
	// EstimatedLatencyPerImage are its per-image figures.
	Counts                   hwsim.Counts `json:"counts"`
	Cost                     hwsim.Cost   `json:"cost"`
	EnergyPerImage           float64      `json:"energy_per_image_j"`
	EstimatedLatencyPerImage float64      `json:"estimated_latency_per_image_s"`
	// StepLatency and ImageLatency are the mean virtual times (s) of one
	// step and of one image's inference.
	StepLatency      float64 `json:"virtual_step_latency_s"`
	ImageLatency     float64 `json:"virtual_image_latency_s"`
	MessagesPerImage float64 `json:"messages_per_image"`
	// PerImageStep are the traffic (messages, values, payload bytes: 4 per
	// value, plus sigma-delta index lists) and synaptic operations per image
	// and step of the window, the figures encodings are compared by.
	PerImageStep PerImageStep `json:"per_image_step"`
	// ReconMSE is the reconstruction's mean squared error per pixel on
	// [0,1]; FinalDiscrepancy the mean final ½Σ‖e‖² per image.
	ReconMSE         float64 `json:"recon_mse"`
	FinalDiscrepancy float64 `json:"final_discrepancy"`
	// StateLag and ErrorLag are the async staleness histograms (version
	// lag → inputs used), summed over the mini-batches; MeanStateLag and
	// MaxStateLag summarise the first.
	StateLag     map[int]int `json:"state_lag,omitempty"`
	ErrorLag     map[int]int `json:"error_lag,omitempty"`
	MeanStateLag float64     `json:"mean_state_lag"`
	MaxStateLag  int         `json:"max_state_lag"`
	// Timeline is the first mini-batch's discrepancy and error over
	// virtual time (at most 250 samples, the last kept).
	Timeline []hwsim.Sample `json:"timeline_first_batch"`
	// Phases are the first batch's counts by phase (every step or version).
	Phases *PhaseCounts `json:"phases_first_batch"`
}

// PerImageStep are a run's figures per image and step.
type PerImageStep struct {
	Messages    float64 `json:"messages"`
	Values      float64 `json:"values"`
	Bytes       float64 `json:"bytes"`
	SynapticOps float64 `json:"synaptic_ops"`
}

// Label names the run as the tables and plots do: its mode, and its
// encoding when it is not dense.
func (m *ModeReport) Label() string {
	if m.Encoding == "" || m.Encoding == "dense" {
		return m.Mode
	}
	return m.Mode + ", " + m.Encoding
}

// PhaseCounts are one mini-batch's counts by phase.
type PhaseCounts struct {
	Init    hwsim.Counts   `json:"init"`
	Steps   []hwsim.Counts `json:"steps"`
	Readout hwsim.Counts   `json:"readout"`
}

// TrainReport is one training batch (sync) on an architecture.
type TrainReport struct {
	// Encoding is how the batch's messages travelled.
	Encoding string `json:"encoding"`
	// Counts cover the whole batch, inference and learning; Learn the
	// local update alone.
	Counts         hwsim.Counts `json:"counts"`
	Learn          hwsim.Counts `json:"learn"`
	Cost           hwsim.Cost   `json:"cost"`
	EnergyPerImage float64      `json:"energy_per_image_j"`
	// VirtualSeconds is the batch's virtual time: every image's inference
	// one after another, then the learning.
	VirtualSeconds float64 `json:"virtual_seconds"`
}

// ReferenceReport is the batched reference timed on this CPU (the best of
// ReferenceRuns passes) and priced with the CPU architecture's package
// power.
type ReferenceReport struct {
	PackagePower    float64 `json:"package_power_w"`
	PowerSource     string  `json:"power_source"`
	PowerProvenance string  `json:"power_provenance"`
	// InferSeconds is the wall time of reconstructing InferImages images.
	InferSeconds             float64    `json:"inference_seconds"`
	InferImages              int        `json:"inference_images"`
	Inference                hwsim.Cost `json:"inference"`
	InferenceEnergyPerImage  float64    `json:"inference_energy_per_image_j"`
	InferenceSecondsPerImage float64    `json:"inference_seconds_per_image"`
	// Training is one training batch.
	Training                hwsim.Cost `json:"training"`
	TrainingEnergyPerImage  float64    `json:"training_energy_per_image_j"`
	TrainingSecondsPerImage float64    `json:"training_seconds_per_image"`
}
