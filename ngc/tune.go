package ngc

import (
	"fmt"
	"slices"
)

// tunable is one setting a trained model can take from another config: its
// name and how to read and copy it.
type tunable struct {
	name string
	get  func(c *Config) any
	copy func(dst, src *Config)
}

// tunables are the settings Model.Retune accepts, in the order
// TunableSettings lists them.
func tunables() []tunable {
	return []tunable{
		{"T", func(c *Config) any { return c.Steps }, func(d, s *Config) { d.Steps = s.Steps }},
		{"beta", func(c *Config) any { return c.Beta }, func(d, s *Config) { d.Beta = s.Beta }},
		{"gamma", func(c *Config) any { return deref(c.Gamma) }, func(d, s *Config) { d.Gamma = s.Gamma }},
		{"top-mean", func(c *Config) any { return deref(c.TopMean) }, func(d, s *Config) { d.TopMean = s.TopMean }},
		{"top-std", func(c *Config) any { return deref(c.TopStd) }, func(d, s *Config) { d.TopStd = s.TopStd }},
		{"phi", func(c *Config) any { return c.Phi }, func(d, s *Config) { d.Phi = s.Phi }},
		{"bottom-sigmoid", func(c *Config) any { return c.BottomSigmoid }, func(d, s *Config) { d.BottomSigmoid = s.BottomSigmoid }},
		{"pcn", func(c *Config) any { return c.PCN }, func(d, s *Config) { d.PCN = s.PCN }},
		{"lambda", func(c *Config) any { return deref(c.Lambda) }, func(d, s *Config) { d.Lambda = s.Lambda }},
		{"lr", func(c *Config) any { return c.LearningRate }, func(d, s *Config) { d.LearningRate = s.LearningRate }},
		{"max-kernel-norm", func(c *Config) any { return c.MaxKernelNorm }, func(d, s *Config) { d.MaxKernelNorm = s.MaxKernelNorm }},
		{"batch", func(c *Config) any { return c.Batch }, func(d, s *Config) { d.Batch = s.Batch }},
		{"seed", func(c *Config) any { return c.Seed }, func(d, s *Config) { d.Seed = s.Seed }},
	}
}

// deref is *p, or the string "default" for a nil pointer (the default).
func deref(p *float64) any {
	if p == nil {
		return "default"
	}
	return *p
}

// TunableSettings names the settings of a Config that a trained model can
// change without changing what its parameters are (see Model.Retune), by
// the names of the ngc command's flags: the dynamics of inference "T",
// "beta", "gamma", "top-mean", "top-std", "phi", "bottom-sigmoid" and
// "pcn", and the learning settings "lambda", "lr", "max-kernel-norm",
// "batch" and "seed".
func TunableSettings() []string {
	ts := tunables()
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.name
	}
	return names
}

// Change is one setting Override changed, with its values before and after
// (a nil pointer setting reads "default").
type Change struct {
	Setting  string
	Was, Now any
}

// Same says whether the setting kept its value.
func (c Change) Same() bool { return fmt.Sprint(c.Was) == fmt.Sprint(c.Now) }

// Override returns c with the named settings (TunableSettings) taken from
// from, in the order TunableSettings lists them, and the changes one by
// one, equal values included. An unknown name is an error wrapping
// ErrConfig, and c is returned unchanged.
func (c Config) Override(from Config, names ...string) (Config, []Change, error) {
	ts := tunables()
	for _, n := range names {
		if !slices.ContainsFunc(ts, func(t tunable) bool { return t.name == n }) {
			return c, nil, fmt.Errorf("%w: %q is not a setting a trained model can change", ErrConfig, n)
		}
	}
	var changes []Change
	for _, t := range ts {
		if !slices.Contains(names, t.name) {
			continue
		}
		was := t.get(&c)
		t.copy(&c, &from)
		changes = append(changes, Change{Setting: t.name, Was: was, Now: t.get(&c)})
	}
	return c, changes, nil
}

// Override returns a copy of the model (Retune) that runs and learns with
// the named settings (TunableSettings) taken from from, and the changes one
// by one, equal values included (Config.Override). With no names it
// returns m itself and no changes. The errors are Config.Override's and
// Retune's.
func (m *Model) Override(from Config, names ...string) (*Model, []Change, error) {
	if len(names) == 0 {
		return m, nil, nil
	}
	c, changes, err := m.Config().Override(from, names...)
	if err != nil {
		return nil, nil, err
	}
	r, err := m.Retune(c)
	if err != nil {
		return nil, nil, err
	}
	return r, changes, nil
}
