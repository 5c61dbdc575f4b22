package hwsim_test

import (
	"fmt"
	"log"

	"github.com/convngc/convngc/hwsim"
)

// Map the paper's network onto Loihi and estimate one image's
// reconstruction (T = 60) from the analytic counts. The runtime's probes
// give the same Counts from a real run.
func Example() {
	arch, err := hwsim.Load("loihi") // or the path of an edited copy
	if err != nil {
		log.Fatal(err)
	}
	net := hwsim.PaperNetwork()
	circuit, err := hwsim.CircuitOf(net, hwsim.Reconstruct, 16)
	if err != nil {
		log.Fatal(err)
	}
	m, err := hwsim.Map(circuit, arch, hwsim.Options{})
	if err != nil {
		log.Fatal(err)
	}
	counts, err := hwsim.InferenceCounts(net, 60, hwsim.Reconstruct)
	if err != nil {
		log.Fatal(err)
	}
	cost, err := hwsim.Estimate(m, counts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d cores on %d chips, %d fan-in/fan-out violations\n", len(m.Cores), m.Chips, len(m.Violations))
	fmt.Printf("%.1f mJ and %.1f ms per image\n", cost.EnergyPerImage()*1e3, cost.LatencyPerImage()*1e3)
	fmt.Printf("synaptic ops %.0f%% of the energy\n", 100*cost.EnergyBy[hwsim.SynapticOps]/cost.Energy)
	// Output:
	// 254 cores on 2 chips, 0 fan-in/fan-out violations
	// 18.0 mJ and 88.5 ms per image
	// synaptic ops 61% of the energy
}

// Quantize a map to what Loihi's rate code can carry.
func ExampleQuantize() {
	arch, err := hwsim.Load("loihi")
	if err != nil {
		log.Fatal(err)
	}
	bits := arch.ValueBits(16) // 5: 4-bit magnitude and a sign
	x := []float32{0.03, -0.4, 0.97, 2}
	q := make([]float32, len(x))
	if err := hwsim.Quantize(q, x, bits, 1); err != nil {
		log.Fatal(err)
	}
	fmt.Println(bits, hwsim.QuantStep(bits, 1), q)
	// Output:
	// 5 0.0625 [0 -0.375 0.9375 0.9375]
}
