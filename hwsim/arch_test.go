package hwsim

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBuiltinArchsLoadAndValidate(t *testing.T) {
	want := []string{"cpu", "loihi", "loihi2", "spinnaker", "truenorth"}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		a, err := Load(name)
		if err != nil {
			t.Fatalf("Load(%q): %v", name, err)
		}
		if a.Name != name {
			t.Errorf("Load(%q).Name = %q", name, a.Name)
		}
		if err := a.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
		ps := a.Params()
		if len(ps) != len(a.fields()) {
			t.Errorf("%s: %d params, want %d", name, len(ps), len(a.fields()))
		}
		for _, p := range ps {
			if p.Source == "" || !p.Provenance.valid() || p.Unit == "" {
				t.Errorf("%s: %s lacks a source, provenance or unit: %+v", name, p.Path, p.Param)
			}
			if !p.Verified && p.Provenance == Measured && p.Note == "" {
				// A measurement not found in a public copy must say so.
				t.Errorf("%s: %s is an unverified measurement without a note", name, p.Path)
			}
		}
		text, err := ArchFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(text, name+".json")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: Parse(ArchFile) differs from Load", name)
		}
	}
}

func TestBuiltinFigures(t *testing.T) {
	for _, tc := range []struct {
		arch, path string
		want       float64
	}{
		{"loihi", "core.neurons", 1024},
		{"loihi", "core.synapse_memory_bits", 128 * 1024 * 8},
		{"loihi", "core.fan_in_axons", 4096},
		{"loihi", "core.fan_out_axons", 4096},
		{"loihi", "chip.cores", 128},
		{"loihi", "energy.synaptic_op", 23.6e-12},
		{"loihi", "energy.message", 1.7e-12},
		{"loihi", "energy.hop", 3.5e-12},
		{"loihi", "energy.neuron_update", 52e-12},
		{"loihi", "energy.weight_update", 120e-12},
		{"loihi", "latency.barrier", 465e-9},
		{"loihi2", "chip.cores", 128},
		{"loihi2", "core.neurons", 8192},
		{"loihi2", "values.payload_bits", 32},
		{"truenorth", "chip.cores", 4096},
		{"truenorth", "core.neurons", 256},
		{"truenorth", "core.synapse_memory_bits", 256 * 256},
		{"truenorth", "values.payload_bits", 0},
		{"truenorth", "energy.synaptic_op", 26e-12},
		{"spinnaker", "core.neurons", 255},
		{"spinnaker", "latency.tick", 1e-3},
		{"cpu", "energy.synaptic_op", 4.6e-12},
	} {
		a, err := Load(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range a.Params() {
			if p.Path == tc.path {
				found = true
				if p.Value != tc.want {
					t.Errorf("%s %s = %g, want %g", tc.arch, tc.path, p.Value, tc.want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no parameter %s", tc.arch, tc.path)
		}
	}
}

func TestLoadFromFile(t *testing.T) {
	text, err := ArchFile("loihi")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "my-loihi.json")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	if a.Name != "loihi" {
		t.Errorf("name %q", a.Name)
	}
}

func TestLoadUnknown(t *testing.T) {
	for _, name := range []string{"nosuch", "", "../arch/loihi", filepath.Join(t.TempDir(), "missing.json")} {
		if _, err := Load(name); !errors.Is(err, ErrUnknownArch) {
			t.Errorf("Load(%q) = %v, want ErrUnknownArch", name, err)
		}
	}
}

// writeBroken writes loihi.json after edit to a temporary file and
// returns its path.
func writeBroken(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	text, err := ArchFile("loihi")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(text, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func section(m map[string]any, name string) map[string]any { return m[name].(map[string]any) }

func param(m map[string]any, sec, name string) map[string]any {
	return section(m, sec)[name].(map[string]any)
}

func TestBrokenArchErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(m map[string]any)
		field string // must appear in the error
	}{
		{"missing param", func(m map[string]any) { delete(section(m, "energy"), "synaptic_op") }, "energy.synaptic_op: missing"},
		{"missing value", func(m map[string]any) { delete(param(m, "energy", "hop"), "value") }, "energy.hop.value: missing"},
		{"negative", func(m map[string]any) { param(m, "latency", "barrier")["value"] = -1.0 }, "latency.barrier.value: negative"},
		{"fractional count", func(m map[string]any) { param(m, "core", "neurons")["value"] = 10.5 }, "core.neurons.value: must be a whole number"},
		{"zero cores", func(m map[string]any) { param(m, "chip", "cores")["value"] = 0.0 }, "chip.cores.value: must be positive"},
		{"no source", func(m map[string]any) { param(m, "energy", "message")["source"] = "" }, "energy.message.source: missing"},
		{"bad provenance", func(m map[string]any) { param(m, "energy", "message")["provenance"] = "guessed" }, "energy.message.provenance"},
		{"bad coding", func(m map[string]any) { section(m, "values")["coding"] = "analog" }, "values.coding"},
		{"missing layout", func(m map[string]any) { delete(section(m, "core"), "synapse_layout") }, "core.synapse_layout: missing"},
		{"small grid", func(m map[string]any) { param(m, "chip", "grid_width")["value"] = 2.0 }, "chip.grid_width"},
		{"missing name", func(m map[string]any) { delete(m, "name") }, "name: missing"},
		{"unknown key", func(m map[string]any) { section(m, "energy")["synaptic_opp"] = map[string]any{"value": 1.0} }, "synaptic_opp"},
		{"unknown param key", func(m map[string]any) { param(m, "energy", "hop")["vaule"] = 1.0 }, "vaule"},
		{"string value", func(m map[string]any) { param(m, "energy", "hop")["value"] = "3.5 pJ" }, "broken.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeBroken(t, tc.edit)
			_, err := Load(path)
			if !errors.Is(err, ErrInvalidArch) {
				t.Fatalf("Load = %v, want ErrInvalidArch", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "broken.json") || !strings.Contains(msg, tc.field) {
				t.Errorf("error %q does not name the file and %q", msg, tc.field)
			}
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	var a Arch
	err := a.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate of a zero Arch = %v, want *ValidationError", err)
	}
	// name, three enumerations and every parameter.
	if want := 4 + len(a.fields()); len(ve.Problems) != want {
		t.Errorf("%d problems, want %d: %v", len(ve.Problems), want, err)
	}
}

func TestValueBits(t *testing.T) {
	for _, tc := range []struct {
		arch    string
		popBits int
		want    int
	}{
		{"loihi", 8, 5}, {"truenorth", 32, 5}, {"loihi2", 8, 8}, {"loihi2", 16, 16},
		{"loihi2", 0, 32}, {"cpu", 32, 32}, {"spinnaker", 40, 32},
	} {
		a, err := Load(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.ValueBits(tc.popBits); got != tc.want {
			t.Errorf("%s.ValueBits(%d) = %d, want %d", tc.arch, tc.popBits, got, tc.want)
		}
	}
}
