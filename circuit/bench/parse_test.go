package bench

import (
	"slices"
	"testing"
)

// TestParseNATS: each choice names its connections; anything else is
// refused with the choice in the message.
func TestParseNATS(t *testing.T) {
	for s, want := range map[string][]string{
		"embedded": {NATSEmbedded}, "tcp": {NATSTCP}, "both": {NATSEmbedded, NATSTCP}, "none": nil,
	} {
		if got, err := ParseNATS(s); err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseNATS(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseNATS("udp"); err == nil || err.Error() != `nats "udp": want embedded, tcp, both or none` {
		t.Errorf("ParseNATS(udp): %v", err)
	}
}
