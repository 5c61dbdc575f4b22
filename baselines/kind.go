package baselines

import "fmt"

// New builds a freshly initialised baseline by kind: "conv-ae" or
// "conv-dae" from ae; "ngc" (also "ngc-fc") or "pcn" from fc, "pcn"
// setting fc.PCN. Zero-valued fields keep the paper's settings.
func New(kind string, ae AEConfig, fc NGCConfig) (Model, error) {
	switch kind {
	case "conv-ae":
		return NewConvAE(ae)
	case "conv-dae":
		return NewConvDAE(ae)
	case "ngc", "ngc-fc", "pcn":
		fc.PCN = fc.PCN || kind == "pcn"
		return NewNGC(fc)
	}
	return nil, fmt.Errorf("baselines: unknown kind %q (want conv-ae, conv-dae, ngc-fc or pcn)", kind)
}

// ConfigOf returns a baseline's resolved configuration, an AEConfig or an
// NGCConfig (nil for another Model).
func ConfigOf(m Model) any {
	switch b := m.(type) {
	case *Autoencoder:
		return b.Config()
	case *NGC:
		return b.Config()
	}
	return nil
}
