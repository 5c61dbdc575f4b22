//go:build !linux

package bench

// PeakRSS is unknown outside Linux.
func PeakRSS() int64 { return 0 }
