package bench

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestScalingChannels(t *testing.T) {
	for _, tc := range []struct {
		size int
		want []int
	}{{32, []int{10, 15, 20, 25, 3}}, {64, []int{10, 15, 20, 25, 25, 3}}, {128, []int{10, 15, 20, 25, 25, 25, 3}}} {
		got, err := ScalingChannels(tc.size)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ScalingChannels(%d) = %v, %v; want %v", tc.size, got, err, tc.want)
		}
	}
	for _, bad := range []int{16, 48, 0} {
		if _, err := ScalingChannels(bad); err == nil {
			t.Errorf("image size %d accepted", bad)
		}
	}
}

// TestScaling runs a tiny sweep: the rows carry the work per image, which
// quadruples from 32 to 64 pixels plus the added layer's share.
func TestScaling(t *testing.T) {
	rows, err := Scaling(context.Background(), []int{32, 64}, []int{2}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].MicrosPerImage <= 0 || rows[1].TrainMicrosPerImage <= 0 {
		t.Fatalf("rows %+v", rows)
	}
	if r := float64(rows[1].FLOPsPerImage) / float64(rows[0].FLOPsPerImage); r < 4 || r > 5 {
		t.Errorf("64 px costs %.2f× the work of 32 px, want about 4", r)
	}
	if tab := ScalingTable(rows); !strings.Contains(tab, "| 64×64 |") {
		t.Errorf("table:\n%s", tab)
	}
}
