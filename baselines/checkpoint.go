package baselines

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/optim"
	"github.com/convngc/convngc/ngc/safetensors"
)

// ErrCheckpoint reports a checkpoint that does not hold a usable baseline.
var ErrCheckpoint = errors.New("baselines: bad checkpoint")

// Checkpoint metadata keys and values.
const (
	metaFormat  = "format"
	metaModel   = "model"
	metaConfig  = "config"
	metaUpdates = "updates"
	formatName  = "convngc-baseline/1"

	kindAE  = "conv-ae"
	kindDAE = "conv-dae"
	kindNGC = "ngc"
)

// paramSet is the parameters of a model with their Adam state, and the
// non-trainable tensors a checkpoint keeps.
type paramSet struct {
	params  []*Param
	state   []*Param
	opt     []*optim.Adam // opt[i] moves params[i]
	updates int
}

func newParamSet(params, state []*Param, lr float64) paramSet {
	ps := paramSet{params: params, state: state}
	for _, p := range params {
		ps.opt = append(ps.opt, optim.NewAdam(len(p.Value), lr))
	}
	return ps
}

// step moves every parameter against its gradient.
func (ps *paramSet) step() {
	for i, p := range ps.params {
		ps.opt[i].Step(p.Value, p.Grad)
	}
	ps.updates++
}

// setLR sets every optimiser's step size.
func (ps *paramSet) setLR(lr float64) {
	for _, o := range ps.opt {
		o.LR = lr
	}
}

// count returns the number of trainable values.
func (ps *paramSet) count() int {
	n := 0
	for _, p := range ps.params {
		n += len(p.Value)
	}
	return n
}

// save writes the checkpoint of file to path.
func (ps *paramSet) save(path, kind string, cfg any) error {
	f, err := ps.file(kind, cfg)
	if err != nil {
		return err
	}
	if err := safetensors.WriteFile(path, f); err != nil {
		return fmt.Errorf("baselines: save %s: %w", kind, err)
	}
	return nil
}

// file returns the checkpoint: the tensors, Adam's moments
// ("adam.m.<name>", "adam.v.<name>") and the metadata.
func (ps *paramSet) file(kind string, cfg any) (*safetensors.File, error) {
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("baselines: %s: encode config: %w", kind, err)
	}
	f := &safetensors.File{Metadata: map[string]string{
		metaFormat: formatName, metaModel: kind, metaConfig: string(js), metaUpdates: strconv.Itoa(ps.updates)}}
	add := func(name string, shape []int, data []float32) {
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: name, Shape: shape, Data: data})
	}
	for i, p := range ps.params {
		add(p.Name, p.Shape, p.Value)
		add("adam.m."+p.Name, p.Shape, ps.opt[i].M)
		add("adam.v."+p.Name, p.Shape, ps.opt[i].V)
	}
	for _, p := range ps.state {
		add(p.Name, p.Shape, p.Value)
	}
	return f, nil
}

// checkFinite returns an error wrapping ngc.ErrDiverged that names the
// first parameter or running statistic holding a NaN or an infinity.
func (ps *paramSet) checkFinite() error {
	for _, group := range [][]*Param{ps.params, ps.state} {
		for _, p := range group {
			for i, v := range p.Value {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("%w: %s[%d] = %v", ngc.ErrDiverged, p.Name, i, v)
				}
			}
		}
	}
	return nil
}

// restore fills the tensors from f, which must hold exactly the tensors
// save writes, with their shapes.
func (ps *paramSet) restore(f *safetensors.File) error {
	updates, err := strconv.Atoi(f.Metadata[metaUpdates])
	if err != nil || updates < 0 {
		return fmt.Errorf("%w: updates %q", ErrCheckpoint, f.Metadata[metaUpdates])
	}
	byName := make(map[string]safetensors.Tensor, len(f.Tensors))
	for _, t := range f.Tensors {
		byName[t.Name] = t
	}
	used := 0
	take := func(name string, shape []int, dst []float32) error {
		t, ok := byName[name]
		if !ok {
			return fmt.Errorf("%w: tensor %q missing", ErrCheckpoint, name)
		}
		if !sameShape(t.Shape, shape) || len(t.Data) != len(dst) {
			return fmt.Errorf("%w: tensor %q has shape %v, want %v", ErrCheckpoint, name, t.Shape, shape)
		}
		copy(dst, t.Data)
		used++
		return nil
	}
	for i, p := range ps.params {
		if err := take(p.Name, p.Shape, p.Value); err != nil {
			return err
		}
		if err := take("adam.m."+p.Name, p.Shape, ps.opt[i].M); err != nil {
			return err
		}
		if err := take("adam.v."+p.Name, p.Shape, ps.opt[i].V); err != nil {
			return err
		}
		ps.opt[i].T = updates
	}
	for _, p := range ps.state {
		if err := take(p.Name, p.Shape, p.Value); err != nil {
			return err
		}
	}
	if used != len(f.Tensors) {
		return fmt.Errorf("%w: %d tensors that are not part of the model", ErrCheckpoint, len(f.Tensors)-used)
	}
	ps.updates = updates
	return nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Load reads a baseline written by Save, whichever kind it is (the
// metadata says), with its training state: parameters, batch-norm running
// statistics, Adam's moments and the update count, so that training
// resumes exactly. Anything that is not a complete checkpoint of a valid
// model is refused with an error wrapping ErrCheckpoint (or the error of
// package safetensors).
func Load(path string) (Model, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("baselines: load %s: %w", path, err)
	}
	m, err := fromFile(f)
	if err != nil {
		return nil, fmt.Errorf("baselines: load %s: %w", path, err)
	}
	return m, nil
}

// FromCheckpoint rebuilds a baseline from a file returned by a model's
// Checkpoint or read with safetensors.ReadFile, with the checks of Load.
// Metadata keys it does not know are ignored.
func FromCheckpoint(f *safetensors.File) (Model, error) { return fromFile(f) }

func fromFile(f *safetensors.File) (Model, error) {
	if err := f.CheckFinite(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if f.Metadata[metaFormat] != formatName {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrCheckpoint, f.Metadata[metaFormat], formatName)
	}
	js := []byte(f.Metadata[metaConfig])
	floats := 0
	for _, t := range f.Tensors {
		floats += len(t.Data)
	}
	// A checkpoint holds every parameter three times (value and Adam's two
	// moments): refuse a config the file cannot fill before allocating it.
	fits := func(params int) error {
		if 3*params > floats {
			return fmt.Errorf("%w: config needs %d parameters, the file holds %d values", ErrCheckpoint, params, floats)
		}
		return nil
	}
	switch kind := f.Metadata[metaModel]; kind {
	case kindAE, kindDAE:
		var cfg AEConfig
		if err := json.Unmarshal(js, &cfg); err != nil {
			return nil, fmt.Errorf("%w: config: %v", ErrCheckpoint, err)
		}
		rc, err := cfg.resolve(kind)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		if err := fits(rc.paramCount()); err != nil {
			return nil, err
		}
		m, err := newAutoencoder(kind, rc)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		if err := m.ps.restore(f); err != nil {
			return nil, err
		}
		return m, nil
	case kindNGC:
		var cfg NGCConfig
		if err := json.Unmarshal(js, &cfg); err != nil {
			return nil, fmt.Errorf("%w: config: %v", ErrCheckpoint, err)
		}
		rc, err := cfg.Resolve()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		if err := fits(rc.ParamCount()); err != nil {
			return nil, err
		}
		m, err := NewNGC(rc)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		if err := m.ps.restore(f); err != nil {
			return nil, err
		}
		return m, nil
	default:
		return nil, fmt.Errorf("%w: unknown model %q", ErrCheckpoint, kind)
	}
}
