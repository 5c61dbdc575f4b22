package report

import (
	"strings"
	"testing"

	"github.com/convngc/convngc/ngc"
)

func TestWriteParamDiffs(t *testing.T) {
	e := 0.25
	for _, tc := range []struct {
		diffs []ngc.ParamDiff
		want  []string
	}{
		{nil, []string{"layer             W         bias            E        ‖W‖"}},
		{[]ngc.ParamDiff{{Layer: 1, W: 0.5, Bias: 0.001, NormW: 2}, {Layer: 2, W: 0, Bias: 0, E: &e, NormW: 1.5}},
			[]string{"layer             W         bias            E        ‖W‖",
				"1               0.5        0.001            —     2.0000",
				"2                 0            0         0.25     1.5000"}},
	} {
		var b strings.Builder
		if err := WriteParamDiffs(&b, tc.diffs); err != nil {
			t.Fatal(err)
		}
		if got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("WriteParamDiffs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

func TestDynamics(t *testing.T) {
	c, err := ngc.Config{TopStd: ngc.Float(0), Untied: true}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    ngc.Config
		want string
	}{
		{c, "T=60 β=0.1 γ=0.001 z_top~N(0.5, 0) φ=leaky-relu optimizer=adam lr=0.001 batch=500 untied=true pcn=false"},
		{ngc.Config{Steps: 3}, "T=3 β=0 γ=default z_top~N(default, default) φ= optimizer= lr=0 batch=0 untied=false pcn=false"},
	} {
		if got := Dynamics(tc.c); got != tc.want {
			t.Errorf("Dynamics = %q, want %q", got, tc.want)
		}
	}
}
