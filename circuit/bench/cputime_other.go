//go:build !unix

package bench

import "time"

// CPUTime is unknown on this platform.
func CPUTime() time.Duration { return 0 }

// LoadAverage is unknown on this platform.
func LoadAverage() string { return "" }
