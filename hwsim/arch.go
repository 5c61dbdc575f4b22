package hwsim

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed arch/*.json
var archFS embed.FS

// Sentinel errors, tested with errors.Is.
var (
	// ErrUnknownArch is returned by Load for a name that is neither a
	// built-in architecture nor a readable file.
	ErrUnknownArch = errors.New("hwsim: unknown architecture")
	// ErrInvalidArch is returned when an architecture file or value fails
	// validation; the error names the file and every offending field.
	ErrInvalidArch = errors.New("hwsim: invalid architecture")
	// ErrInvalidCircuit is returned by Map for a circuit that is malformed.
	ErrInvalidCircuit = errors.New("hwsim: invalid circuit")
	// ErrDoesNotFit is returned by Map when a circuit cannot be placed on
	// the architecture at all.
	ErrDoesNotFit = errors.New("hwsim: circuit does not fit")
	// ErrInvalidCounts is returned by Estimate for negative event counts.
	ErrInvalidCounts = errors.New("hwsim: invalid counts")
)

// Provenance says where a number comes from.
type Provenance string

// The provenance tags an architecture file may use.
const (
	// Specified: a design figure stated by the chip's makers (a capacity,
	// a word width), neither measured nor derived.
	Specified Provenance = "specified"
	// Measured: read off silicon (a paper's measurement of a real chip or a
	// benchmark run on a real machine).
	Measured Provenance = "measured"
	// Simulated: from a pre-silicon or circuit-level simulation.
	Simulated Provenance = "simulated"
	// Derived: computed from other published numbers; the note shows how.
	Derived Provenance = "derived"
	// Assumed: no published figure was found; a stated assumption stands
	// in for one, and the note says what it is.
	Assumed Provenance = "assumed"
)

func (p Provenance) valid() bool {
	switch p {
	case Specified, Measured, Simulated, Derived, Assumed:
		return true
	}
	return false
}

// Param is one number of an architecture with its unit, its source and its
// provenance. Verified records whether the figure was found in a public copy
// of the source when the file was written; Note says what was and was not
// checked, and how a derived or assumed value was obtained.
type Param struct {
	Value      float64    `json:"value"`
	Unit       string     `json:"unit"`
	Source     string     `json:"source"`
	Provenance Provenance `json:"provenance"`
	Verified   bool       `json:"verified"`
	Note       string     `json:"note,omitempty"`
}

// UnmarshalJSON decodes a Param strictly: unknown keys are an error and a
// missing "value" decodes as NaN so that validation reports it.
func (p *Param) UnmarshalJSON(b []byte) error {
	var raw struct {
		Value      *float64 `json:"value"`
		Unit       string   `json:"unit"`
		Source     string   `json:"source"`
		Provenance string   `json:"provenance"`
		Verified   bool     `json:"verified"`
		Note       string   `json:"note"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	*p = Param{
		Value:      math.NaN(),
		Unit:       raw.Unit,
		Source:     raw.Source,
		Provenance: Provenance(raw.Provenance),
		Verified:   raw.Verified,
		Note:       raw.Note,
	}
	if raw.Value != nil {
		p.Value = *raw.Value
	}
	return nil
}

// SynapseLayout says how an architecture stores the weights of a
// convolutional population.
type SynapseLayout string

const (
	// Shared: a core holds one copy of the kernels of every population
	// part it hosts (weight sharing, as a convolution engine or a CPU
	// does); a population split over k cores stores its kernels k times.
	Shared SynapseLayout = "shared"
	// Unrolled: every connection is its own synapse (a crossbar, or
	// explicit synapse lists): a population stores one weight per
	// multiply-accumulate of a step, Population.SynapticOps of them.
	Unrolled SynapseLayout = "unrolled"
)

// Interconnect says how the cores of one chip reach each other.
type Interconnect string

const (
	// Mesh: cores sit on a grid_width × grid_height 2-D mesh and a
	// packet pays one hop per step of Manhattan distance; chips extend the
	// mesh, so distances are measured on the global core grid.
	Mesh Interconnect = "mesh"
	// Router: every core of a chip hangs off one router (no hops inside a
	// chip); packets between chips pay chip hops only.
	Router Interconnect = "router"
)

// Coding says how a graded (real) value travels between populations.
type Coding string

const (
	// Graded: one packet carries the value in its payload (Loihi 2's
	// graded spikes, SpiNNaker's payload packets, a CPU's memory word).
	// One algorithmic step is one hardware time step.
	Graded Coding = "graded"
	// Rate: binary spikes; a value's magnitude is the number of spikes in
	// a window of ticks_per_step hardware time steps and its sign picks one
	// of an on/off pair of neurons (neurons_per_unit = 2). Every value costs
	// spikes_per_value packets and synaptic events on average.
	Rate Coding = "rate"
)

// CoreSpec holds the capacity of one core. A value of 0 means no limit
// (used by the CPU).
type CoreSpec struct {
	Neurons           Param         `json:"neurons"`             // neurons (compartments) per core
	SynapseMemoryBits Param         `json:"synapse_memory_bits"` // synaptic weight memory per core, bits
	WeightBits        Param         `json:"weight_bits"`         // bits per stored weight
	FanInAxons        Param         `json:"fan_in_axons"`        // input axons per core
	FanOutAxons       Param         `json:"fan_out_axons"`       // output axons per core
	NeuronFanOut      Param         `json:"neuron_fan_out"`      // destination cores one neuron can target
	SynapseLayout     SynapseLayout `json:"synapse_layout"`
}

// ChipSpec holds the cores of one chip and their arrangement.
type ChipSpec struct {
	Cores        Param        `json:"cores"`       // usable cores per chip
	GridWidth    Param        `json:"grid_width"`  // cores along x on the chip's mesh
	GridHeight   Param        `json:"grid_height"` // cores along y
	Interconnect Interconnect `json:"interconnect"`
}

// SystemSpec holds the size of the largest system the file describes.
type SystemSpec struct {
	MaxChips Param `json:"max_chips"`
}

// ValueCoding says how a graded value is represented on the wire.
type ValueCoding struct {
	Coding         Coding `json:"coding"`
	PayloadBits    Param  `json:"payload_bits"`     // bits a packet carries (0: binary spike)
	ValueBits      Param  `json:"value_bits"`       // signed resolution of a value, for Quantize
	TicksPerStep   Param  `json:"ticks_per_step"`   // hardware time steps per algorithmic step
	SpikesPerValue Param  `json:"spikes_per_value"` // mean packets (and synaptic events) per value
	NeuronsPerUnit Param  `json:"neurons_per_unit"` // hardware neurons per map unit
}

// EnergyCosts holds energy per event in joules, and power in watts.
type EnergyCosts struct {
	SynapticOp     Param `json:"synaptic_op"`      // J per synaptic operation
	NeuronUpdate   Param `json:"neuron_update"`    // J per neuron update (per hardware time step)
	Message        Param `json:"message"`          // J per packet delivered (within a core or tile)
	Hop            Param `json:"hop"`              // J per packet per mesh hop between cores
	ChipHop        Param `json:"chip_hop"`         // J per packet per chip boundary crossed (extra)
	BarrierPerCore Param `json:"barrier_per_core"` // J per used core per barrier
	WeightUpdate   Param `json:"weight_update"`    // J per stored weight updated
	StaticPower    Param `json:"static_power"`     // W per used chip while a run lasts
	PackagePower   Param `json:"package_power"`    // W of the whole package, for EstimateWallTime (0: n/a)
}

// LatencyCosts holds times in seconds.
type LatencyCosts struct {
	SynapticOp   Param `json:"synaptic_op"`   // s per synaptic operation, serial within a core
	NeuronUpdate Param `json:"neuron_update"` // s per neuron update, serial within a core
	Message      Param `json:"message"`       // s for a packet within a core or tile
	Hop          Param `json:"hop"`           // s per mesh hop
	ChipHop      Param `json:"chip_hop"`      // s per chip boundary crossed
	Barrier      Param `json:"barrier"`       // s per barrier (end of a hardware time step)
	WeightUpdate Param `json:"weight_update"` // s per stored weight updated, serial within a core
	Tick         Param `json:"tick"`          // minimum duration of a hardware time step (0: none)
}

// Arch is a neuromorphic (or conventional) hardware architecture as data:
// capacities, value coding and per-event costs, each number with its
// source. Load reads one from the built-in files or from a JSON file of the
// same form.
type Arch struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// OnChipLearning says whether the chip can update its own weights;
	// where it cannot, Estimate does not cost weight updates and says so
	// in Cost.Warnings.
	OnChipLearning bool         `json:"on_chip_learning"`
	Core           CoreSpec     `json:"core"`
	Chip           ChipSpec     `json:"chip"`
	System         SystemSpec   `json:"system"`
	Values         ValueCoding  `json:"values"`
	Energy         EnergyCosts  `json:"energy"`
	Latency        LatencyCosts `json:"latency"`
}

// NamedParam is a Param with its dotted path in the architecture file,
// for example "energy.synaptic_op".
type NamedParam struct {
	Path string
	Param
}

// constraint on a parameter's value beyond "finite and not negative".
type constraint int

const (
	anyValue constraint = iota // ≥ 0
	integer                    // ≥ 0 and integral
	positive                   // > 0
	posInt                     // ≥ 1 and integral
)

type field struct {
	path string
	p    *Param
	c    constraint
}

func (a *Arch) fields() []field {
	return []field{
		{"core.neurons", &a.Core.Neurons, integer},
		{"core.synapse_memory_bits", &a.Core.SynapseMemoryBits, integer},
		{"core.weight_bits", &a.Core.WeightBits, posInt},
		{"core.fan_in_axons", &a.Core.FanInAxons, integer},
		{"core.fan_out_axons", &a.Core.FanOutAxons, integer},
		{"core.neuron_fan_out", &a.Core.NeuronFanOut, integer},
		{"chip.cores", &a.Chip.Cores, posInt},
		{"chip.grid_width", &a.Chip.GridWidth, posInt},
		{"chip.grid_height", &a.Chip.GridHeight, posInt},
		{"system.max_chips", &a.System.MaxChips, posInt},
		{"values.payload_bits", &a.Values.PayloadBits, integer},
		{"values.value_bits", &a.Values.ValueBits, posInt},
		{"values.ticks_per_step", &a.Values.TicksPerStep, posInt},
		{"values.spikes_per_value", &a.Values.SpikesPerValue, positive},
		{"values.neurons_per_unit", &a.Values.NeuronsPerUnit, posInt},
		{"energy.synaptic_op", &a.Energy.SynapticOp, anyValue},
		{"energy.neuron_update", &a.Energy.NeuronUpdate, anyValue},
		{"energy.message", &a.Energy.Message, anyValue},
		{"energy.hop", &a.Energy.Hop, anyValue},
		{"energy.chip_hop", &a.Energy.ChipHop, anyValue},
		{"energy.barrier_per_core", &a.Energy.BarrierPerCore, anyValue},
		{"energy.weight_update", &a.Energy.WeightUpdate, anyValue},
		{"energy.static_power", &a.Energy.StaticPower, anyValue},
		{"energy.package_power", &a.Energy.PackagePower, anyValue},
		{"latency.synaptic_op", &a.Latency.SynapticOp, anyValue},
		{"latency.neuron_update", &a.Latency.NeuronUpdate, anyValue},
		{"latency.message", &a.Latency.Message, anyValue},
		{"latency.hop", &a.Latency.Hop, anyValue},
		{"latency.chip_hop", &a.Latency.ChipHop, anyValue},
		{"latency.barrier", &a.Latency.Barrier, anyValue},
		{"latency.weight_update", &a.Latency.WeightUpdate, anyValue},
		{"latency.tick", &a.Latency.Tick, anyValue},
	}
}

// Params lists every number of the architecture with its path, in file
// order: the sources table of the architecture.
func (a *Arch) Params() []NamedParam {
	fs := a.fields()
	out := make([]NamedParam, len(fs))
	for i, f := range fs {
		out[i] = NamedParam{Path: f.path, Param: *f.p}
	}
	return out
}

// FieldProblem is one validation failure: the dotted field path and what is
// wrong with it.
type FieldProblem struct {
	Field   string
	Problem string
}

// ValidationError lists every problem found in one architecture. It
// matches ErrInvalidArch under errors.Is.
type ValidationError struct {
	File     string // file name, or the architecture's name when not from a file
	Problems []FieldProblem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hwsim: invalid architecture %s: ", e.File)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", p.Field, p.Problem)
	}
	return b.String()
}

// Is reports whether target is ErrInvalidArch.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidArch }

// Validate checks every field: names and enumerations present, every
// number present, finite and not negative (integral where a count is
// meant), every number with a source and a known provenance, and the
// chip's grid large enough for its cores. It returns a *ValidationError
// naming each offending field.
func (a *Arch) Validate() error {
	return a.validate(a.Name)
}

func (a *Arch) validate(file string) error {
	var probs []FieldProblem
	add := func(field, format string, args ...any) {
		probs = append(probs, FieldProblem{field, fmt.Sprintf(format, args...)})
	}
	if a.Name == "" {
		add("name", "missing")
	}
	switch a.Core.SynapseLayout {
	case Shared, Unrolled:
	case "":
		add("core.synapse_layout", "missing (want %q or %q)", Shared, Unrolled)
	default:
		add("core.synapse_layout", "%q is not %q or %q", a.Core.SynapseLayout, Shared, Unrolled)
	}
	switch a.Chip.Interconnect {
	case Mesh, Router:
	case "":
		add("chip.interconnect", "missing (want %q or %q)", Mesh, Router)
	default:
		add("chip.interconnect", "%q is not %q or %q", a.Chip.Interconnect, Mesh, Router)
	}
	switch a.Values.Coding {
	case Graded, Rate:
	case "":
		add("values.coding", "missing (want %q or %q)", Graded, Rate)
	default:
		add("values.coding", "%q is not %q or %q", a.Values.Coding, Graded, Rate)
	}
	for _, f := range a.fields() {
		p := f.p
		if p.Source == "" && p.Provenance == "" && p.Unit == "" && (p.Value == 0 || math.IsNaN(p.Value)) {
			add(f.path, "missing")
			continue
		}
		v := p.Value
		switch {
		case math.IsNaN(v):
			add(f.path+".value", "missing or not a number")
		case math.IsInf(v, 0):
			add(f.path+".value", "not finite")
		case v < 0:
			add(f.path+".value", "negative (%g)", v)
		case (f.c == positive || f.c == posInt) && v == 0:
			add(f.path+".value", "must be positive")
		case (f.c == integer || f.c == posInt) && (v != math.Trunc(v) || v > 1<<53):
			add(f.path+".value", "must be a whole number (%g)", v)
		}
		if p.Source == "" {
			add(f.path+".source", "missing")
		}
		if !p.Provenance.valid() {
			if p.Provenance == "" {
				add(f.path+".provenance", "missing")
			} else {
				add(f.path+".provenance", "%q is not specified, measured, simulated, derived or assumed", p.Provenance)
			}
		}
	}
	if len(probs) == 0 {
		w, h, n := a.Chip.GridWidth.Value, a.Chip.GridHeight.Value, a.Chip.Cores.Value
		if w*h < n {
			add("chip.grid_width", "grid %g×%g holds fewer than chip.cores = %g", w, h, n)
		}
		if a.Values.Coding == Graded && a.Values.PayloadBits.Value == 0 {
			add("values.payload_bits", "graded coding needs a payload")
		}
	}
	if len(probs) > 0 {
		return &ValidationError{File: file, Problems: probs}
	}
	return nil
}

// Parse decodes and validates an architecture from JSON. origin names the
// data in errors (a file name). Unknown keys are rejected so that a typo in
// an edited file does not silently drop a cost.
func Parse(data []byte, origin string) (*Arch, error) {
	var a Arch
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrInvalidArch, origin, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w %s: trailing data after the object", ErrInvalidArch, origin)
	}
	if err := a.validate(origin); err != nil {
		return nil, err
	}
	return &a, nil
}

// Names lists the built-in architectures, sorted.
func Names() []string {
	ents, err := fs.ReadDir(archFS, "arch")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// ArchFile returns the JSON text of a built-in architecture, for a user
// to copy and edit.
func ArchFile(name string) ([]byte, error) {
	if strings.ContainsAny(name, `/\.`) || name == "" {
		return nil, fmt.Errorf("%w: %q (built-in names: %s)", ErrUnknownArch, name, strings.Join(Names(), ", "))
	}
	b, err := archFS.ReadFile("arch/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w: %q (built-in names: %s)", ErrUnknownArch, name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// Load returns an architecture by built-in name ("loihi", "loihi2",
// "truenorth", "spinnaker", "cpu") or, when the argument contains a path
// separator or ends in ".json", from that file. The result is validated.
func Load(nameOrPath string) (*Arch, error) {
	if strings.ContainsRune(nameOrPath, filepath.Separator) || strings.ContainsRune(nameOrPath, '/') ||
		strings.HasSuffix(nameOrPath, ".json") {
		data, err := os.ReadFile(nameOrPath)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: %w", ErrUnknownArch, err)
			}
			return nil, fmt.Errorf("hwsim: reading architecture: %w", err)
		}
		return Parse(data, nameOrPath)
	}
	data, err := ArchFile(nameOrPath)
	if err != nil {
		return nil, err
	}
	return Parse(data, nameOrPath+".json")
}

// int helpers: capacities as Go ints, 0 meaning "no limit".

func (p Param) int64v() int64 { return int64(p.Value) }

// synapseCapacity is the number of weights one core can store (0: no limit).
func (a *Arch) synapseCapacity() int64 {
	return a.Core.SynapseMemoryBits.int64v() / a.Core.WeightBits.int64v()
}

// ValueBits is the signed resolution, in bits, with which a population
// that sends popBits-wide values (0 meaning 32) is represented on this
// architecture: the smaller of popBits and values.value_bits. The runtime
// passes it to Quantize to reproduce what the hardware would see.
func (a *Arch) ValueBits(popBits int) int {
	if popBits <= 0 || popBits > 32 {
		popBits = 32
	}
	vb := int(a.Values.ValueBits.Value)
	if vb < popBits {
		return vb
	}
	return popBits
}
