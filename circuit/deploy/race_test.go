//go:build race

package deploy_test

// raceEnabled is set under the race detector, where the paper network runs
// too slowly for the timing-sensitive parity test.
const raceEnabled = true
