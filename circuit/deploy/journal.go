package deploy

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/ngc"
	"github.com/convngc/convngc/ngc/data"
)

// The journal of a run is a directory:
//
//	journal.json            the plan of the run and one record per completed mini-batch
//	out-NNNNNN.f32          the outputs of mini-batch N's real images, little-endian float32
//	model-NNNNNN.safetensors  when learning, the model (parameters and Adam state) after batch N
//
// Every file is written to a temporary name and renamed into place, and
// journal.json last: a batch is in the journal once journal.json names it.

const (
	journalVersion = 1
	journalName    = "journal.json"
	// maxJournal bounds the size of a journal.json the decoder accepts.
	maxJournal = 256 << 20
)

// plan is what a resumed run must share with the journal's run.
type plan struct {
	Run      string        `json:"run"`
	Mode     string        `json:"mode"`
	Task     string        `json:"task"`
	Async    AsyncSettings `json:"async"`
	Encoding string        `json:"encoding,omitempty"`
	Learn    bool          `json:"learn"`
	Epochs   int           `json:"epochs"`
	Batch    int           `json:"batch"`
	Steps    int           `json:"steps"`
	Seed     uint64        `json:"seed"`
	NoiseStd float64       `json:"noise_std"`
	Clip     bool          `json:"clip"`
	Dataset  string        `json:"dataset"`
	Images   int           `json:"images"`
	// ImagesHash and ModelHash are FNV-64a hashes of the images' and the
	// starting parameters' float32 bits.
	ImagesHash string `json:"images_hash"`
	ModelHash  string `json:"model_hash"`
}

// batchRecord is one completed mini-batch.
type batchRecord struct {
	Batch   int     `json:"batch"` // 1-based
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
	// Trace is the batch's energy trace; TraceBits stores it in the file
	// as float64 bits (JSON has no NaN).
	Trace     ngc.Trace            `json:"-"`
	TraceBits [][]uint64           `json:"trace_bits"`
	Async     *circuit.AsyncReport `json:"async,omitempty"`
}

// journalFile is journal.json.
type journalFile struct {
	Version int           `json:"version"`
	Plan    plan          `json:"plan"`
	Batches []batchRecord `json:"batches"`
	// Model names the model file after the last batch (learning).
	Model string `json:"model,omitempty"`
}

// journal is an open journal.
type journal struct {
	dir     string
	f       journalFile
	resumed int
}

// openJournal starts a journal, or reads the one WithResume continues and
// replays its batches into the measurements.
func (co *coordinator) openJournal(m *ngc.Model, p *circuit.Placement) error {
	cfg := co.cfg
	if cfg.journal == "" {
		return nil
	}
	want := plan{Run: cfg.run, Mode: cfg.mode, Task: taskName(cfg.task), Async: cfg.async, Learn: cfg.learn, Epochs: cfg.epochs,
		Encoding: encodingName(cfg.encoding),
		Batch:    co.B, Steps: co.c.Config.Steps, Seed: cfg.seed, NoiseStd: cfg.noiseStd, Clip: cfg.clip, Dataset: co.set.Name,
		Images: co.set.Len(), ImagesHash: hashFloats(co.set.Images), ModelHash: hashParams(co.c.Params)}
	j := &journal{dir: cfg.journal, f: journalFile{Version: journalVersion, Plan: want}}
	co.journal = j
	if !cfg.resume {
		return j.reset()
	}
	b, err := os.ReadFile(filepath.Join(j.dir, journalName))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrJournal, err)
	}
	jf, err := decodeJournal(b)
	if err != nil {
		return fmt.Errorf("%s: %w", j.dir, err)
	}
	if diff := planDiff(jf.Plan, want); diff != "" {
		return fmt.Errorf("%w: %s records another run (%s)", ErrJournal, j.dir, diff)
	}
	j.f.Batches, j.f.Model = jf.Batches, jf.Model
	if len(jf.Batches) > co.total {
		return fmt.Errorf("%w: %s records %d mini-batches, the run has %d", ErrJournal, j.dir, len(jf.Batches), co.total)
	}
	if cfg.learn && len(jf.Batches) > 0 {
		if err := co.resumeModel(filepath.Join(j.dir, jf.Model)); err != nil {
			return err
		}
	}
	clean := make([]float32, co.B*data.ImageSize)
	in := make([]float32, co.B*data.ImageSize)
	for k, rec := range jf.Batches {
		if got := co.images(k, clean, in); got != rec.Images {
			return fmt.Errorf("%w: %s: mini-batch %d had %d images, now %d", ErrJournal, j.dir, k+1, rec.Images, got)
		}
		out, err := readFloats(filepath.Join(j.dir, outName(k+1)), rec.Images*data.ImageSize)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrJournal, err)
		}
		if err := co.account(rec, clean, in, out); err != nil {
			return err
		}
	}
	j.resumed = len(jf.Batches)
	co.log.Info(fmt.Sprintf("resuming run %s after mini-batch %d of %d (journal %s)", cfg.run, j.resumed, co.total, j.dir))
	return nil
}

// resumeModel continues from the journal's model: its parameters and Adam
// state replace the starting model's.
func (co *coordinator) resumeModel(path string) error {
	m, err := ngc.Load(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrJournal, err)
	}
	c, err := circuit.FromModel(m)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrJournal, err)
	}
	if hashGraph(c.Graph) != hashGraph(co.c.Graph) {
		return fmt.Errorf("%w: %s is not a model of this network", ErrJournal, path)
	}
	co.c, co.model = c, m
	return nil
}

// reset empties the journal directory of an earlier run's files.
func (j *journal) reset() error {
	if err := os.MkdirAll(j.dir, 0o755); err != nil {
		return fmt.Errorf("deploy: journal: %w", err)
	}
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("deploy: journal: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if n == journalName || strings.HasPrefix(n, "out-") || strings.HasPrefix(n, "model-") || strings.HasPrefix(n, ".tmp-") {
			if err := os.Remove(filepath.Join(j.dir, n)); err != nil {
				return fmt.Errorf("deploy: journal: %w", err)
			}
		}
	}
	return j.commit()
}

// record adds a completed mini-batch: its outputs, the model after it (when
// learning), then journal.json.
func (j *journal) record(rec batchRecord, out []float32, m *ngc.Model) error {
	if err := writeAtomic(filepath.Join(j.dir, outName(rec.Batch)), func(w io.Writer) error {
		return binary.Write(w, binary.LittleEndian, out)
	}); err != nil {
		return fmt.Errorf("deploy: journal: %w", err)
	}
	prev := j.f.Model
	if m != nil {
		name := fmt.Sprintf("model-%06d.safetensors", rec.Batch)
		tmp := filepath.Join(j.dir, ".tmp-"+name)
		if err := m.Save(tmp); err != nil {
			return fmt.Errorf("deploy: journal: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(j.dir, name)); err != nil {
			return fmt.Errorf("deploy: journal: %w", err)
		}
		j.f.Model = name
	}
	j.f.Batches = append(j.f.Batches, rec)
	if err := j.commit(); err != nil {
		return err
	}
	if prev != "" && prev != j.f.Model {
		_ = os.Remove(filepath.Join(j.dir, prev))
	}
	return nil
}

// commit writes journal.json.
func (j *journal) commit() error {
	for i := range j.f.Batches {
		j.f.Batches[i].TraceBits = traceBits(j.f.Batches[i].Trace)
	}
	b, err := json.Marshal(j.f)
	if err != nil {
		return fmt.Errorf("deploy: journal: %w", err)
	}
	if err := writeAtomic(filepath.Join(j.dir, journalName), func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("deploy: journal: %w", err)
	}
	return nil
}

// decodeJournal reads journal.json and checks it is whole.
func decodeJournal(b []byte) (*journalFile, error) {
	if len(b) > maxJournal {
		return nil, fmt.Errorf("%w: %d bytes", ErrJournal, len(b))
	}
	var f journalFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJournal, err)
	}
	if f.Version != journalVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrJournal, f.Version, journalVersion)
	}
	if f.Plan.Batch < 1 || f.Plan.Steps < 1 {
		return nil, fmt.Errorf("%w: batch %d, steps %d", ErrJournal, f.Plan.Batch, f.Plan.Steps)
	}
	if f.Model != "" && (filepath.Base(f.Model) != f.Model || !strings.HasPrefix(f.Model, "model-")) {
		return nil, fmt.Errorf("%w: model file %q", ErrJournal, f.Model)
	}
	for i := range f.Batches {
		r := &f.Batches[i]
		if r.Batch != i+1 || r.Images < 1 || r.Images > f.Plan.Batch {
			return nil, fmt.Errorf("%w: record %d is of batch %d with %d images", ErrJournal, i+1, r.Batch, r.Images)
		}
		if len(r.TraceBits) != f.Plan.Steps+1 {
			return nil, fmt.Errorf("%w: batch %d has a trace of %d steps, want %d", ErrJournal, r.Batch, len(r.TraceBits), f.Plan.Steps+1)
		}
		r.Trace = fromBits(r.TraceBits)
	}
	if f.Plan.Learn && len(f.Batches) > 0 && f.Model == "" {
		return nil, errors.Join(ErrJournal, errors.New("a learning run's journal names no model"))
	}
	return &f, nil
}

// planDiff names the first difference between two plans ("" if equal).
func planDiff(a, b plan) string {
	ja, jb := map[string]any{}, map[string]any{}
	_ = json.Unmarshal(encodeJSON(a), &ja)
	_ = json.Unmarshal(encodeJSON(b), &jb)
	for k, v := range ja {
		if fmt.Sprint(v) != fmt.Sprint(jb[k]) {
			return fmt.Sprintf("%s %v there, %v now", k, v, jb[k])
		}
	}
	return ""
}

func outName(batch int) string { return fmt.Sprintf("out-%06d.f32", batch) }

// traceBits stores a trace (T steps and the final energies) as float64 bits.
func traceBits(tr ngc.Trace) [][]uint64 {
	rows := append(append([][]float64(nil), tr.Steps...), tr.Final)
	out := make([][]uint64, len(rows))
	for i, r := range rows {
		out[i] = make([]uint64, len(r))
		for l, v := range r {
			out[i][l] = math.Float64bits(v)
		}
	}
	return out
}

func fromBits(rows [][]uint64) ngc.Trace {
	var tr ngc.Trace
	for i, r := range rows {
		v := make([]float64, len(r))
		for l, b := range r {
			v[l] = math.Float64frombits(b)
		}
		if i == len(rows)-1 {
			tr.Final = v
		} else {
			tr.Steps = append(tr.Steps, v)
		}
	}
	return tr
}

// readFloats reads exactly n little-endian float32 values.
func readFloats(path string, n int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != 4*n {
		return nil, fmt.Errorf("%s holds %d bytes, want %d", path, len(b), 4*n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// writeAtomic writes a file through a temporary one in the same directory,
// synced and renamed into place.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func hashFloats(vs ...[]float32) string {
	h := fnv.New64a()
	var b [4]byte
	for _, v := range vs {
		for _, x := range v {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			h.Write(b[:])
		}
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

func hashParams(p *circuit.Params) string {
	var all [][]float32
	all = append(append(append(all, p.W...), p.E...), p.Bias...)
	return hashFloats(all...)
}

func hashGraph(g *circuit.Graph) string { return string(encodeJSON(g)) }
