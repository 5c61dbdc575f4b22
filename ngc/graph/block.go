package graph

import (
	"errors"
	"fmt"

	"github.com/convngc/convngc/ngc/tensor"
)

// Block is a residual block (the paper's Appendix C, Eq. 7): the upper
// layer's states reach the prediction of the lower layer through a stack of
// stages whose activities h are not states. Stage k (from 1, at the top)
// computes
//
//	a_k = W_k ⊛ h_{k−1}                 (a transposed convolution, stride Stride_k)
//	h_k = act_k(pool_k(a_k))            (max-pool of window and stride Pool_k, then ReLU if set)
//
// from h_0 = φ(z_From); the prediction of To is h_K (plus, with Skip, the
// upper layer's states: z_From, upsampled to To's size by nearest
// neighbour, map j of the prediction taking map j mod C_From) passed
// through To's output activation g. The Appendix's block is Residual.
//
// The block's error pathway (Eq. 8-11) runs the other way through
// learnable error kernels E_k, one per stage, that skip the pools and
// activations: d_K = e_To, d_{k−1} = E_k ∗ up_{k−1}(d_k) for k = K..2, where
// d_k lives at the output a_k of stage k and up_{k−1} is the nearest-
// neighbour upsampling by stage k−1's pool (each pooled unit's perturbation
// copied to every unit of its window: the "Dilate around pooled layers");
// the upper layer's correction gets E_1 ∗ d_1, in place of the plain
// synapse's E ∗ e. Stage k learns ΔW_k = d_k ⋆ Dilate(h_{k−1}) (Eq. 12, the
// plain rule with d_k for the error) and ΔE_k = λ·ΔW_kᵀ.
type Block struct {
	Stages []Stage `json:"stages"`
	// Skip adds the upper layer's states to the prediction (Eq. 7's
	// "+ z"); it needs To's size to be a multiple of From's.
	Skip bool `json:"skip,omitempty"`
	// Pathway is how perturbations cross the block's pools and rectifiers
	// on the way up: PathwayLRA ("" or "lra", the paper's Eq. 8-11) skips
	// them, PathwayExact routes them through the adjoint of the forward
	// pass (to each pool window's maximum, and only where a rectifier is
	// active), the "even more stable" local scheme the Appendix mentions.
	Pathway string `json:"pathway,omitempty"`
}

// The error pathways of a block.
const (
	PathwayLRA   = "lra"
	PathwayExact = "exact"
)

// Stage is one transposed convolution of a block and what follows it.
type Stage struct {
	// Maps is the number of output maps; the last stage's must be the
	// predicted layer's.
	Maps int `json:"maps"`
	// Kernel and Stride of the transposed convolution (SAME padding).
	Kernel int `json:"kernel"`
	Stride int `json:"stride"`
	// Pool is the window and stride of a max-pool after the convolution (0
	// or 1: none).
	Pool int `json:"pool,omitempty"`
	// ReLU applies a rectifier after the pool.
	ReLU bool `json:"relu,omitempty"`
}

// StageGeom is the geometry of one stage of a block.
type StageGeom struct {
	InMaps, InSize   int // h_{k−1}
	OutMaps, OutSize int // a_k, before the pool
	HSize            int // h_k, after the pool
	Spec             tensor.ConvSpec
}

// Geometry returns the geometry of every stage of b when it joins layers
// from and to, for mini-batches of batch images.
func (b *Block) Geometry(from, to Layer, batch int) ([]StageGeom, error) {
	if len(b.Stages) == 0 {
		return nil, errors.New("a block needs at least one stage")
	}
	maps, size := from.Maps, from.Size
	var out []StageGeom
	for k, st := range b.Stages {
		if st.Maps < 1 || st.Kernel < 1 || st.Stride < 1 || st.Pool < 0 {
			return nil, fmt.Errorf("stage %d: %d maps, kernel %d, stride %d, pool %d", k+1, st.Maps, st.Kernel, st.Stride, st.Pool)
		}
		outSize := size * st.Stride
		geom, err := tensor.SameGeom(outSize, outSize, st.Kernel, st.Stride)
		if err != nil {
			return nil, fmt.Errorf("stage %d: %v", k+1, err)
		}
		if geom.OutH != size {
			return nil, fmt.Errorf("stage %d: kernel %d stride %d does not take %d pixels to %d", k+1, st.Kernel, st.Stride, size, outSize)
		}
		h := outSize
		if p := st.Pool; p > 1 {
			if outSize%p != 0 {
				return nil, fmt.Errorf("stage %d: a pool of %d does not divide %d pixels", k+1, p, outSize)
			}
			h = outSize / p
		}
		out = append(out, StageGeom{InMaps: maps, InSize: size, OutMaps: st.Maps, OutSize: outSize, HSize: h,
			Spec: tensor.ConvSpec{Geom: geom, Batch: batch, InC: st.Maps, OutC: maps, Flip: true}})
		maps, size = st.Maps, h
	}
	if maps != to.Maps || size != to.Size {
		return nil, fmt.Errorf("the last stage gives %d maps of %d pixels, layer below has %d of %d", maps, size, to.Maps, to.Size)
	}
	return out, nil
}

func (b *Block) check(from, to Layer) error {
	if _, err := b.Geometry(from, to, 1); err != nil {
		return err
	}
	if b.Pathway != "" && b.Pathway != PathwayLRA && b.Pathway != PathwayExact {
		return fmt.Errorf("pathway %q (want lra or exact)", b.Pathway)
	}
	if b.Skip && (to.Size%from.Size != 0) {
		return fmt.Errorf("skip: %d pixels do not upsample to %d", from.Size, to.Size)
	}
	return nil
}

// AppendixC returns the residual block of the paper's Eq. 7 for a synapse
// that doubles the map size: four stages with `width` maps inside,
//
//	h4 = W4 ⊛₂ φ(z)              (stride 2: s → 2s)
//	h3 = ReLU(Pool₂(W3 ⊛₂ h4))   (2s → 4s → 2s)
//	h2 = Pool₂(W2 ⊛₂ h3)         (2s → 4s → 2s)
//	h1 = ReLU(W1 ⊛₁ h2) + z      (2s → 2s, the lower layer's maps)
//
// with kernel×kernel kernels. Our choices where the text leaves room: the
// strides and the 2×2 pools that bring the block from s to 2s pixels, and a
// skip term of z upsampled by nearest neighbour (see Block).
func AppendixC(width, lowerMaps, kernel int) *Block {
	return &Block{Skip: true, Stages: []Stage{
		{Maps: width, Kernel: kernel, Stride: 2},
		{Maps: width, Kernel: kernel, Stride: 2, Pool: 2, ReLU: true},
		{Maps: width, Kernel: kernel, Stride: 2, Pool: 2},
		{Maps: lowerMaps, Kernel: kernel, Stride: 1, ReLU: true},
	}}
}

// Residual returns a copy of g in which every plain stride-2 synapse is an
// Appendix C block (AppendixC with `width` maps inside and the synapse's
// kernel size).
func Residual(g *Graph, width int) (*Graph, error) {
	r := g.Clone()
	for i, s := range r.Synapses {
		if s.Block != nil || s.Stride != 2 {
			continue
		}
		r.Synapses[i] = Synapse{From: s.From, To: s.To, Block: AppendixC(width, r.Layers[s.To].Maps, s.Kernel)}
	}
	return r, r.Validate()
}
