package baselines

import "testing"

func TestNewByKind(t *testing.T) {
	for kind, want := range map[string]string{"conv-ae": "conv-ae", "conv-dae": "conv-dae", "ngc": "ngc", "ngc-fc": "ngc", "pcn": "pcn"} {
		m, err := New(kind, AEConfig{}, NGCConfig{})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if m.Name() != want {
			t.Errorf("New(%q) is a %s", kind, m.Name())
		}
		switch c := ConfigOf(m).(type) {
		case AEConfig:
			if kind != "conv-ae" && kind != "conv-dae" {
				t.Errorf("%s: config %T", kind, c)
			}
		case NGCConfig:
			if c.PCN != (kind == "pcn") {
				t.Errorf("%s: PCN %v", kind, c.PCN)
			}
		default:
			t.Errorf("%s: config %T", kind, c)
		}
	}
	if _, err := New("conv-vae", AEConfig{}, NGCConfig{}); err == nil {
		t.Error("New(conv-vae): no error")
	}
	if ConfigOf(nil) != nil {
		t.Error("ConfigOf(nil) is not nil")
	}
}
