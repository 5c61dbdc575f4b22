package ngc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/convngc/convngc/ngc/optim"
	"github.com/convngc/convngc/ngc/safetensors"
)

// ErrCheckpoint reports a checkpoint that does not hold a usable model.
var ErrCheckpoint = errors.New("ngc: bad checkpoint")

// Checkpoint metadata keys.
const (
	metaFormat  = "format"
	metaConfig  = "config"
	metaUpdates = "updates"
	// metaOrientation says how kernel taps are read (see orientation).
	metaOrientation = "kernel_orientation"
	formatName      = "convngc/1"
	// orientation describes the kernels for other tools.
	orientation = "W.n has shape [C_upper, C_lower, K, K], PyTorch's ConvTranspose2d weight layout, with the taps in " +
		"ngc-learn's (JAX conv_transpose) orientation: rotate every KxK kernel by 180 degrees " +
		"(torch.flip(w, dims=[2, 3])) to use it as a ConvTranspose2d weight"
)

// Save writes the model to a safetensors file: the resolved config (with
// its graph) as JSON in __metadata__["config"]; for a chain, kernels "W.ℓ"
// of shape [C_ℓ, C_{ℓ−1}, K, K] (and "E.ℓ" when untied), biases "b.ℓ" of
// shape [C_{ℓ−1}], for ℓ = 1..L (for any graph see eachParam's naming);
// and the optimiser's moment estimates ("adam.m.W.ℓ", "adam.v.W.ℓ", ...) so
// that training resumes exactly. __metadata__["kernel_orientation"] says
// how to read the kernels in PyTorch: the taps are in ngc-learn's (JAX
// conv_transpose) orientation, PyTorch's ConvTranspose2d weight rotated by
// 180°.
func (m *Model) Save(path string) error {
	f, err := m.safetensors()
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("ngc: save model: %w", err)
		}
	}
	if err := safetensors.WriteFile(path, f); err != nil {
		return fmt.Errorf("ngc: save model: %w", err)
	}
	return nil
}

func (m *Model) safetensors() (*safetensors.File, error) {
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		return nil, fmt.Errorf("ngc: encode config: %w", err)
	}
	f := &safetensors.File{Metadata: map[string]string{metaFormat: formatName, metaConfig: string(cfg), metaOrientation: orientation}}
	updates := 0
	m.eachParam(func(name string, shape []int, data []float32, opt optim.Optimizer) error {
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: name, Shape: shape, Data: data})
		if a, ok := opt.(*optim.Adam); ok {
			f.Tensors = append(f.Tensors,
				safetensors.Tensor{Name: "adam.m." + name, Shape: shape, Data: a.M},
				safetensors.Tensor{Name: "adam.v." + name, Shape: shape, Data: a.V})
			updates = a.T
		}
		return nil
	})
	f.Metadata[metaUpdates] = strconv.Itoa(updates)
	return f, nil
}

// eachParam calls fn on every parameter tensor of the model with its
// checkpoint name, shape and optimiser, in checkpoint order. Synapse si of
// the graph is numbered n = si+1 (in a chain, the synapse from layer n to
// n−1): "W.n", "b.n" (when it holds its layer's biases), "E.n" (untied),
// and for a residual block "W.n.k" and "E.n.k" for stage k = 1, 2, ….
func (m *Model) eachParam(fn func(name string, shape []int, data []float32, opt optim.Optimizer) error) error {
	for si, syn := range m.g.Synapses {
		s, o, n := m.syn[si], m.opt[si], si+1
		up, low := m.g.Layers[syn.From].Maps, m.g.Layers[syn.To].Maps
		if syn.Block != nil {
			geo, _ := syn.Block.Geometry(m.g.Layers[syn.From], m.g.Layers[syn.To], 1)
			for k, st := range s.Stages {
				kk := syn.Block.Stages[k].Kernel
				shape := []int{geo[k].InMaps, geo[k].OutMaps, kk, kk}
				if err := fn(fmt.Sprintf("W.%d.%d", n, k+1), shape, st.W, o.stages[k].w); err != nil {
					return err
				}
				if err := fn(fmt.Sprintf("E.%d.%d", n, k+1), shape, st.E, o.stages[k].e); err != nil {
					return err
				}
			}
			continue
		}
		kshape := []int{up, low, syn.Kernel, syn.Kernel}
		if err := fn(fmt.Sprintf("W.%d", n), kshape, s.W, o.w); err != nil {
			return err
		}
		if s.Bias != nil {
			if err := fn(fmt.Sprintf("b.%d", n), []int{low}, s.Bias, o.b); err != nil {
				return err
			}
		}
		if s.E != nil {
			if err := fn(fmt.Sprintf("E.%d", n), kshape, s.E, o.e); err != nil {
				return err
			}
		}
	}
	return nil
}

// Load reads a model written by Save. The file's structure and checksum are
// verified, and every tensor the config implies must be present with its
// exact shape; anything else is refused with an error saying what is wrong.
func Load(path string) (*Model, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ngc: load model: %w", err)
	}
	m, err := fromSafetensors(f)
	if err != nil {
		return nil, fmt.Errorf("ngc: load %s: %w", path, err)
	}
	return m, nil
}

func fromSafetensors(f *safetensors.File) (*Model, error) {
	if f.Metadata[metaFormat] != formatName {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrCheckpoint, f.Metadata[metaFormat], formatName)
	}
	if err := f.CheckFinite(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(f.Metadata[metaConfig]), &cfg); err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrCheckpoint, err)
	}
	rc, err := cfg.Resolve()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	updates, err := strconv.Atoi(f.Metadata[metaUpdates])
	if err != nil || updates < 0 {
		return nil, fmt.Errorf("%w: updates %q", ErrCheckpoint, f.Metadata[metaUpdates])
	}
	// Refuse a config the file cannot fill before allocating it.
	values := 0
	for _, t := range f.Tensors {
		values += len(t.Data)
	}
	if need := paramCount(rc); need > values {
		return nil, fmt.Errorf("%w: the config needs %d parameters, the file holds %d values", ErrCheckpoint, need, values)
	}
	m := newEmpty(rc)
	byName := make(map[string]safetensors.Tensor, len(f.Tensors))
	for _, t := range f.Tensors {
		byName[t.Name] = t
	}
	used := 0
	take := func(name string, dst []float32) error {
		t, ok := byName[name]
		if !ok {
			return fmt.Errorf("%w: tensor %q missing", ErrCheckpoint, name)
		}
		if len(t.Data) != len(dst) {
			return fmt.Errorf("%w: tensor %q has %d values (shape %v), want %d", ErrCheckpoint, name, len(t.Data), t.Shape, len(dst))
		}
		copy(dst, t.Data)
		used++
		return nil
	}
	load := func(name string, dst []float32, opt optim.Optimizer) error {
		if err := take(name, dst); err != nil {
			return err
		}
		if a, ok := opt.(*optim.Adam); ok {
			if err := take("adam.m."+name, a.M); err != nil {
				return err
			}
			if err := take("adam.v."+name, a.V); err != nil {
				return err
			}
			a.T = updates
		}
		return nil
	}
	if err := m.eachParam(func(name string, _ []int, data []float32, opt optim.Optimizer) error {
		return load(name, data, opt)
	}); err != nil {
		return nil, err
	}
	if used != len(f.Tensors) {
		return nil, fmt.Errorf("%w: %d tensors not part of a model of %d layers and %d synapses", ErrCheckpoint, len(f.Tensors)-used, len(rc.Graph.Layers), len(rc.Graph.Synapses))
	}
	return m, nil
}

// paramCount returns the number of parameters a resolved config's model
// has, without allocating them (capped at math.MaxInt32 for absurd configs).
func paramCount(rc Config) int {
	g := rc.Graph
	n := 0
	add := func(v int64) {
		n = int(min(int64(n)+v, math.MaxInt32))
	}
	for _, s := range g.Synapses {
		up, low := int64(g.Layers[s.From].Maps), int64(g.Layers[s.To].Maps)
		if s.Block != nil {
			geo, err := s.Block.Geometry(g.Layers[s.From], g.Layers[s.To], 1)
			if err != nil {
				return math.MaxInt32
			}
			for k, sg := range geo {
				kk := int64(s.Block.Stages[k].Kernel)
				add(2 * int64(sg.InMaps) * int64(sg.OutMaps) * kk * kk)
			}
			continue
		}
		k := int64(s.Kernel)
		add(up * low * k * k)
		if rc.Untied {
			add(up * low * k * k)
		}
	}
	return n
}
