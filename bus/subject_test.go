package bus

import (
	"errors"
	"testing"
)

func TestValidSubjectAndPattern(t *testing.T) {
	tests := []struct {
		s                string
		literal, pattern bool
	}{
		{"r1.z.1.3", true, true},
		{"a", true, true},
		{"run-7_b.ctl.step", true, true},
		{"r1.z.>", false, true},
		{"r1.*.1.*", false, true},
		{"*", false, true},
		{">", false, true},
		{"", false, false},
		{".", false, false},
		{"r1..z", false, false},
		{".r1", false, false},
		{"r1.", false, false},
		{"r1.z 1", false, false},
		{"r1.z\t1", false, false},
		{"r1.>.z", false, false},
		{"r1.z*", false, false},
		{"r1.a>b", false, false},
		{"r1.\x00", false, false},
	}
	for _, tt := range tests {
		if err := ValidSubject(tt.s); (err == nil) != tt.literal || (err != nil && !errors.Is(err, ErrSubject)) {
			t.Errorf("ValidSubject(%q) = %v, want ok=%v", tt.s, err, tt.literal)
		}
		if err := ValidPattern(tt.s); (err == nil) != tt.pattern || (err != nil && !errors.Is(err, ErrSubject)) {
			t.Errorf("ValidPattern(%q) = %v, want ok=%v", tt.s, err, tt.pattern)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"r1.z.1.3", "r1.z.1.3", true},
		{"r1.z.1.3", "r1.z.1.4", false},
		{"r1.z.1", "r1.z.1.3", false},
		{"r1.z.1.3", "r1.z.1", false},
		{"r1.z.>", "r1.z.1.3", true},
		{"r1.z.>", "r1.z.1", true},
		{"r1.z.>", "r1.z", false},
		{"r1.z.>", "r1.e.1.3", false},
		{">", "r1", true},
		{">", "r1.z.1.3", true},
		{"r1.*.1.*", "r1.z.1.3", true},
		{"r1.*.1.*", "r1.e.1.0", true},
		{"r1.*.1.*", "r1.e.2.0", false},
		{"r1.*.1.*", "r1.e.1", false},
		{"r1.*.1.*", "r1.e.1.0.x", false},
		{"*.z.>", "r9.z.4.9", true},
		{"*", "r1", true},
		{"*", "r1.z", false},
		{"r1.z1.>", "r1.z.1", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestSubjectBuilders(t *testing.T) {
	tests := []struct {
		name    string
		build   func() (string, error)
		want    string
		wantErr bool
	}{
		{"state", func() (string, error) { return StateSubject("r1", 1, 3) }, "r1.z.1.3", false},
		{"error", func() (string, error) { return ErrorSubject("r1", 0, 24) }, "r1.e.0.24", false},
		{"control", func() (string, error) { return ControlSubject("r1", "step") }, "r1.ctl.step", false},
		{"control deep", func() (string, error) { return ControlSubject("r1", "probe", "energy") }, "r1.ctl.probe.energy", false},
		{"subject", func() (string, error) { return Subject("a", "b", "c") }, "a.b.c", false},
		{"dot in run", func() (string, error) { return StateSubject("r.1", 1, 3) }, "", true},
		{"space in run", func() (string, error) { return ErrorSubject("r 1", 1, 3) }, "", true},
		{"empty run", func() (string, error) { return StateSubject("", 1, 3) }, "", true},
		{"wildcard run", func() (string, error) { return StateSubject("*", 1, 3) }, "", true},
		{"negative layer", func() (string, error) { return StateSubject("r1", -1, 3) }, "", true},
		{"negative map", func() (string, error) { return ErrorSubject("r1", 1, -3) }, "", true},
		{"control without parts", func() (string, error) { return ControlSubject("r1") }, "", true},
		{"control dotted part", func() (string, error) { return ControlSubject("r1", "a.b") }, "", true},
		{"no tokens", func() (string, error) { return Subject() }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.build()
			if tt.wantErr {
				if !errors.Is(err, ErrSubject) {
					t.Fatalf("got %q, %v; want ErrSubject", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseMapSubject(t *testing.T) {
	tests := []struct {
		s            string
		run          string
		kind         Kind
		layer, index int
		ok           bool
	}{
		{"r1.z.1.3", "r1", KindState, 1, 3, true},
		{"r1.e.0.24", "r1", KindError, 0, 24, true},
		{"r1.ctl.step.1", "", 0, 0, 0, false},
		{"r1.z.1", "", 0, 0, 0, false},
		{"r1.z.-1.3", "", 0, 0, 0, false},
		{"r1.z.+1.3", "", 0, 0, 0, false},
		{"r1.z.01.3", "", 0, 0, 0, false},
		{"r1.z.x.3", "", 0, 0, 0, false},
		{"r 1.z.1.3", "", 0, 0, 0, false},
	}
	for _, tt := range tests {
		run, kind, layer, index, err := ParseMapSubject(tt.s)
		if !tt.ok {
			if !errors.Is(err, ErrSubject) {
				t.Errorf("ParseMapSubject(%q) err = %v, want ErrSubject", tt.s, err)
			}
			continue
		}
		if err != nil || run != tt.run || kind != tt.kind || layer != tt.layer || index != tt.index {
			t.Errorf("ParseMapSubject(%q) = %q %v %d %d %v", tt.s, run, kind, layer, index, err)
		}
	}
	// Round trip with the builders.
	s, _ := ErrorSubject("run7", 3, 14)
	if run, kind, l, i, err := ParseMapSubject(s); err != nil || run != "run7" || kind != KindError || l != 3 || i != 14 {
		t.Fatalf("round trip of %q: %q %v %d %d %v", s, run, kind, l, i, err)
	}
}
