package ngc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestOverride: Override copies exactly the named settings, in
// TunableSettings' order, reports each with its old and new value, and
// refuses a setting that would change the parameters.
func TestOverride(t *testing.T) {
	base := Config{Steps: 60, Beta: 0.1, Gamma: Float(0.001), TopMean: Float(0.5), TopStd: Float(0.05), Phi: "leaky-relu",
		Lambda: Float(1), LearningRate: 0.001, MaxKernelNorm: 1, Batch: 500, Seed: 1}
	from := Config{Steps: 30, Beta: 0.05, Gamma: Float(0), TopMean: Float(0.5), TopStd: Float(0), Phi: "relu",
		BottomSigmoid: true, PCN: true, Lambda: Float(0.5), LearningRate: 0.01, MaxKernelNorm: -1, Batch: 50, Seed: 7,
		Channels: []int{4, 3}, Untied: true}
	for _, tc := range []struct {
		names []string
		want  string // the changes, "setting:was->now" joined
		check func(c Config) bool
	}{
		{nil, "", func(c Config) bool { return c.Steps == 60 && c.Phi == "leaky-relu" }},
		{[]string{"beta", "T"}, "T:60->30 beta:0.1->0.05", func(c Config) bool { return c.Steps == 30 && c.Beta == 0.05 && *c.Gamma == 0.001 }},
		{[]string{"top-std", "gamma", "top-mean"}, "gamma:0.001->0 top-mean:0.5->0.5 top-std:0.05->0",
			func(c Config) bool { return *c.Gamma == 0 && *c.TopStd == 0 && c.Steps == 60 }},
		{[]string{"phi", "bottom-sigmoid", "pcn", "lambda"}, "phi:leaky-relu->relu bottom-sigmoid:false->true pcn:false->true lambda:1->0.5",
			func(c Config) bool { return c.PCN && c.BottomSigmoid && *c.Lambda == 0.5 && !c.Untied }},
		{[]string{"seed", "batch", "max-kernel-norm", "lr"}, "lr:0.001->0.01 max-kernel-norm:1->-1 batch:500->50 seed:1->7",
			func(c Config) bool { return c.Seed == 7 && c.Batch == 50 && c.Channels == nil }},
	} {
		c, changes, err := base.Override(from, tc.names...)
		if err != nil {
			t.Fatalf("%v: %v", tc.names, err)
		}
		var got []string
		for _, ch := range changes {
			got = append(got, fmt.Sprintf("%s:%v->%v", ch.Setting, ch.Was, ch.Now))
		}
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("%v: changes %s, want %s", tc.names, s, tc.want)
		}
		if !tc.check(c) {
			t.Errorf("%v: config %v", tc.names, c)
		}
	}
	for _, bad := range []string{"channels", "untied", "optimizer", "init-std", ""} {
		c, _, err := base.Override(from, "T", bad)
		if !errors.Is(err, ErrConfig) || c.Steps != 60 {
			t.Errorf("Override(%q): %v, steps %d; want ErrConfig and no change", bad, err, c.Steps)
		}
	}
	if got := TunableSettings(); len(got) != 13 || got[0] != "T" || got[12] != "seed" {
		t.Errorf("TunableSettings() = %v", got)
	}
}

// TestChangeSame: a setting given its own value is no change; a nil
// pointer reads "default".
func TestChangeSame(t *testing.T) {
	_, changes, err := Config{Beta: 0.1}.Override(Config{Beta: 0.1, Gamma: Float(0.5)}, "beta", "gamma")
	if err != nil {
		t.Fatal(err)
	}
	if !changes[0].Same() || changes[1].Same() || changes[1].Was != "default" {
		t.Errorf("changes %+v", changes)
	}
}

// TestModelOverride: Model.Override retunes a copy with the named settings
// and lists the changes; no names return the model itself; a setting that
// is not tunable is refused.
func TestModelOverride(t *testing.T) {
	m, err := New(Config{Channels: []int{2, 3}, ImageSize: 8, Steps: 5, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r, changes, err := m.Override(Config{Steps: 9}); err != nil || r != m || changes != nil {
		t.Errorf("no names: %p %v %v, want the model itself", r, changes, err)
	}
	r, changes, err := m.Override(Config{Steps: 9, Beta: 0.2}, "T")
	if err != nil {
		t.Fatal(err)
	}
	if r == m || r.Config().Steps != 9 || r.Config().Beta != m.Config().Beta || m.Config().Steps != 5 {
		t.Errorf("T 9: steps %d beta %v (model %d)", r.Config().Steps, r.Config().Beta, m.Config().Steps)
	}
	if len(changes) != 1 || changes[0].Setting != "T" || changes[0].Was != 5 || changes[0].Now != 9 {
		t.Errorf("changes %+v", changes)
	}
	if _, _, err := m.Override(Config{}, "channels"); !errors.Is(err, ErrConfig) {
		t.Errorf("channels: %v, want ErrConfig", err)
	}
}
