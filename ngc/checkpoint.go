package ngc

import (
	"encoding/json"
	"errors"
	"fmt"
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
	formatName  = "convngc/1"
)

// Save writes the model to a safetensors file: the resolved config as JSON
// in __metadata__["config"], kernels "W.ℓ" of shape [C_ℓ, C_{ℓ−1}, K, K]
// (and "E.ℓ" when untied), biases "b.ℓ" of shape [C_{ℓ−1}], for ℓ = 1..L,
// and the optimiser's moment estimates ("adam.m.W.ℓ", "adam.v.W.ℓ", ...) so
// that training resumes exactly.
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
	f := &safetensors.File{Metadata: map[string]string{metaFormat: formatName, metaConfig: string(cfg)}}
	k := m.cfg.Kernel
	updates := 0
	for l := 1; l <= m.cfg.Layers(); l++ {
		s, o := m.syn[l-1], m.opt[l-1]
		kshape := []int{m.cfg.ChannelsAt(l), m.cfg.ChannelsAt(l - 1), k, k}
		add := func(name string, shape []int, data []float32, opt optim.Optimizer) {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: name, Shape: shape, Data: data})
			if a, ok := opt.(*optim.Adam); ok {
				f.Tensors = append(f.Tensors,
					safetensors.Tensor{Name: "adam.m." + name, Shape: shape, Data: a.M},
					safetensors.Tensor{Name: "adam.v." + name, Shape: shape, Data: a.V})
				updates = a.T
			}
		}
		add(fmt.Sprintf("W.%d", l), kshape, s.W, o.w)
		add(fmt.Sprintf("b.%d", l), []int{m.cfg.ChannelsAt(l - 1)}, s.Bias, o.b)
		if s.E != nil {
			add(fmt.Sprintf("E.%d", l), kshape, s.E, o.e)
		}
	}
	f.Metadata[metaUpdates] = strconv.Itoa(updates)
	return f, nil
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
	for l := 1; l <= rc.Layers(); l++ {
		s, o := m.syn[l-1], m.opt[l-1]
		if err := load(fmt.Sprintf("W.%d", l), s.W, o.w); err != nil {
			return nil, err
		}
		if err := load(fmt.Sprintf("b.%d", l), s.Bias, o.b); err != nil {
			return nil, err
		}
		if s.E != nil {
			if err := load(fmt.Sprintf("E.%d", l), s.E, o.e); err != nil {
				return nil, err
			}
		}
	}
	if used != len(f.Tensors) {
		return nil, fmt.Errorf("%w: %d tensors not part of a %d-layer model", ErrCheckpoint, len(f.Tensors)-used, rc.Layers())
	}
	return m, nil
}
