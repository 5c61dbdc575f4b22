//go:build unix

package main

import (
	"os"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time (0 if unknown): a figure a
// busy machine disturbs less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the system's 1, 5 and 15 minute load averages as
// /proc/loadavg shows them ("" where there is no /proc).
func loadAverage() string {
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
