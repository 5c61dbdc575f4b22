package neuron

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzDeltaIn offers arbitrary sigma-delta frames to a receiver: it never
// panics, refuses what does not fit its map with an error, holds at most
// maxHeld early frames, and keeps its map's size.
func FuzzDeltaIn(f *testing.F) {
	f.Add(uint8(8), []byte{0, 0, 0, 0, 1, 2, 0, 0, 128, 63, 5, 0, 0, 0, 192})
	f.Add(uint8(3), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, n uint8, data []byte) {
		in := newDeltaIn(int(n))
		for _, strict := range []bool{true, false} {
			for len(data) >= 6 {
				d := &Delta{N: int(n), Seq: uint32(data[0]), Reset: data[1]&1 != 0, Sparse: data[1]&2 != 0}
				if data[1]&4 != 0 {
					d.N = int(data[2]) // maybe another map
				}
				k := int(data[3] % 16)
				data = data[4:]
				for i := 0; i < k && len(data) >= 5; i++ {
					d.Index = append(d.Index, uint32(data[0])|uint32(data[1]&0x80)<<24)
					d.Value = append(d.Value, math.Float32frombits(binary.LittleEndian.Uint32(data[1:])))
					data = data[5:]
				}
				if !d.Sparse && len(d.Index) > 0 && (len(data) == 0 || data[0]&1 == 0) {
					d.Index = nil
				}
				_, _, err := in.offer(d, int(d.Seq), strict)
				if err == nil && d.check(int(n)) != nil {
					t.Fatalf("accepted a frame that does not fit %d units: %+v", n, d)
				}
				if len(in.r) != int(n) || len(in.held) > maxHeld {
					t.Fatalf("receiver of %d units holds %d values and %d frames", n, len(in.r), len(in.held))
				}
				if len(data) == 0 {
					break
				}
				data = data[1:]
			}
		}
	})
}
