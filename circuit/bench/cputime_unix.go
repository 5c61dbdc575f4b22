//go:build unix

package bench

import (
	"os"
	"strings"
	"syscall"
	"time"
)

// CPUTime is the process's user+system CPU time (0 if unknown): a figure a
// busy machine disturbs less than wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LoadAverage is the system's 1, 5 and 15 minute load averages as
// /proc/loadavg shows them ("" where there is no /proc).
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
