package viz

import "testing"

func TestTickLabel(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {2000, "2000"}, {0.05, "0.05"}, {1.5, "1.5"}, {-300, "-300"}, {2e-5, "2e-05"}, {3e7, "3e+07"},
	} {
		if got := tickLabel(c.v); got != c.want {
			t.Errorf("tickLabel(%g) = %q, want %q", c.v, got, c.want)
		}
	}
}
