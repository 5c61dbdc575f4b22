package experiment

import (
	"context"
	"fmt"

	"github.com/convngc/convngc/baselines"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// model is one of the compared models behind a single face: Conv-NGC
// (package ngc) or a baseline (package baselines).
type model struct {
	name string
	conv *ngc.Model      // Conv-NGC
	base baselines.Model // the others
}

// newModel builds model name for trial k with fresh parameters.
func (p Protocol) newModel(name string, k int) (*model, error) {
	seed := p.seed(k)
	m := &model{name: name}
	var err error
	switch name {
	case ConvNGC:
		c := p.ConvNGC
		c.Seed = seed
		m.conv, err = ngc.New(c)
	case ConvAE, ConvDAE:
		c := p.AE
		c.Seed = seed
		if name == ConvAE {
			m.base, err = baselines.NewConvAE(c)
		} else {
			m.base, err = baselines.NewConvDAE(c)
		}
	case NGCFC, PCN:
		c := p.FC
		c.Seed = seed
		c.PCN = name == PCN
		m.base, err = baselines.NewNGC(c)
	default:
		return nil, fmt.Errorf("%w: unknown model %q", ErrProtocol, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrProtocol, name, err)
	}
	return m, nil
}

// loadModel reads a checkpoint the runner saved for model name.
func loadModel(name, path string) (*model, error) {
	m := &model{name: name}
	var err error
	if name == ConvNGC {
		m.conv, err = ngc.Load(path)
	} else {
		m.base, err = baselines.Load(path)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// config returns the model's resolved configuration.
func (m *model) config() any {
	if m.conv != nil {
		return m.conv.Config()
	}
	switch b := m.base.(type) {
	case *baselines.Autoencoder:
		return b.Config()
	case *baselines.NGC:
		return b.Config()
	}
	return nil
}

// params returns the number of trainable parameters.
func (m *model) params() int {
	if m.conv != nil {
		s := m.conv.Inspect()
		return s.Weights + s.Biases
	}
	return m.base.Params()
}

// FitSummary is what a trial records of training.
type FitSummary struct {
	Images  int     `json:"train_images"` // size of the training set
	Updates int     `json:"updates"`
	Seen    int     `json:"images_seen"` // images over all updates
	Seconds float64 `json:"seconds"`
	// Objective names Loss: "energy" (total discrepancy per image after
	// the T steps, for the NGC models) or the autoencoders' loss.
	Objective string    `json:"objective"`
	Loss      []float64 `json:"loss_per_update"`
}

// fit trains the model on set; progress receives the images seen so far
// and the total.
func (m *model) fit(ctx context.Context, set *data.Set, epochs int, progress func(done, total int)) (FitSummary, error) {
	if m.conv != nil {
		batch := min(m.conv.Config().Batch, set.Len())
		total := epochs * (set.Len() / batch) * batch
		r, err := m.conv.Fit(ctx, set, ngc.FitOptions{Epochs: epochs, Progress: func(fp ngc.FitProgress) {
			if progress != nil {
				progress(fp.Images, total)
			}
		}})
		if err != nil {
			return FitSummary{}, err
		}
		return FitSummary{Images: set.Len(), Updates: r.Updates, Seen: r.Images, Seconds: r.Seconds, Objective: "energy", Loss: r.Energy}, nil
	}
	var total int
	r, err := m.base.Fit(ctx, set, baselines.FitOptions{Epochs: epochs, Progress: func(fp baselines.FitProgress) {
		if total == 0 {
			total = fp.Epochs * fp.Batches * (fp.Images / max(fp.Batch, 1))
		}
		if progress != nil {
			progress(fp.Images, total)
		}
	}})
	if err != nil {
		return FitSummary{}, err
	}
	return FitSummary{Images: set.Len(), Updates: r.Updates, Seen: r.Images, Seconds: r.Seconds, Objective: r.Objective, Loss: r.Loss}, nil
}

// evaluate runs one task over set.
func (m *model) evaluate(ctx context.Context, set *data.Set, opts ngc.EvalOptions) (ngc.EvalResult, error) {
	if m.conv != nil {
		return m.conv.Evaluate(ctx, set, opts)
	}
	return m.base.Evaluate(ctx, set, opts)
}

// save writes a checkpoint that loadModel reads.
func (m *model) save(path string) error {
	if m.conv != nil {
		return m.conv.Save(path)
	}
	return m.base.Save(path)
}

// figureLayers is how many latent layers above the image the samples keep
// for Figure 4 (the paper shows the image and the two layers above it).
const figureLayers = 2

// latentShapes returns [C, H, W] of Conv-NGC's layers 1..figureLayers, or
// nil for the models without feature maps.
func (m *model) latentShapes() [][]int {
	if m.conv == nil {
		return nil
	}
	c := m.conv.Config()
	var out [][]int
	for l := 1; l <= min(figureLayers, c.Layers()); l++ {
		out = append(out, []int{c.ChannelsAt(l), c.SizeAt(l), c.SizeAt(l)})
	}
	return out
}
