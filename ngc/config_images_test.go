package ngc

import (
	"errors"
	"testing"
)

// TestCheckImages: only configs of the data sets' 32×32 colour images pass;
// the refusal says what the model takes and wraps ErrConfig.
func TestCheckImages(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // "" to pass
	}{
		{Config{Channels: []int{4, 3}, ImageSize: 32}, ""},
		{Config{Channels: []int{4, 1}, ImageSize: 32}, "the model takes 32×32 images of 1 channels, the data sets hold 32×32×3"},
		{Config{Channels: []int{4, 3}, ImageSize: 64}, "the model takes 64×64 images of 3 channels, the data sets hold 32×32×3"},
	} {
		err := tc.cfg.CheckImages()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.cfg.Channels, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.Is(err, ErrConfig)):
			t.Errorf("%v size %d: %v, want %q wrapping ErrConfig", tc.cfg.Channels, tc.cfg.ImageSize, err, tc.want)
		}
	}
}
