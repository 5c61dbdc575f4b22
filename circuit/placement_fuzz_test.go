package circuit

import (
	"errors"
	"testing"

	"github.com/convngc/convngc/ngc"
)

// FuzzParsePlacement: any input is a placement or an ErrPlacement; a
// parsed placement assigns the paper network's populations or says why
// not, never panics.
func FuzzParsePlacement(f *testing.F) {
	for _, s := range []string{
		`{"nodes": {"a": ["*.*.*"]}}`,
		`{"nodes": {"a": ["z.4.*", "e.3.*"], "b": ["*.*.*"]}}`,
		`{"nodes": {"a": ["z.99.1"]}}`,
		`{"nodes": {}}`,
		`{"nodes": {"a": ["*.*.*"]}, "extra": 1}`,
		`{"nodes": {"a": ["[z].*.*"]}}`,
	} {
		f.Add([]byte(s))
	}
	g, err := ConvNGC(ngc.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePlacement(b)
		if err != nil {
			if !errors.Is(err, ErrPlacement) {
				t.Fatalf("error %v is not an ErrPlacement", err)
			}
			return
		}
		assign, err := p.Assign(g)
		if err == nil && len(assign) != len(Populations(g)) {
			t.Fatalf("assigned %d of %d populations without an error", len(assign), len(Populations(g)))
		}
	})
}
