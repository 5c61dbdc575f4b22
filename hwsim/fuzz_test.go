package hwsim

import (
	"errors"
	"testing"
)

// FuzzParse checks that no architecture text makes Parse panic, and that
// whatever it accepts validates and maps a small circuit without panicking.
func FuzzParse(f *testing.F) {
	for _, name := range Names() {
		text, err := ArchFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name": "x", "core": {"neurons": {"value": -1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data, "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrInvalidArch) {
				t.Fatalf("error %v does not match ErrInvalidArch", err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("Parse accepted an architecture that does not validate: %v", err)
		}
		if m, err := Map(tinyCircuit(), a, Options{MaxChips: 4}); err == nil {
			if _, err := Estimate(m, Counts{Images: 1, Steps: 1, Values: 8, SynapticOps: 8}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
