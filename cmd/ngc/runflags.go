package main

import (
	"fmt"
	"math"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/circuit/deploy"
	"github.com/convngc/convngc/neuron"
	"github.com/convngc/convngc/ngc"
)

const runDoc = "Coordinate a run of the actor runtime: every feature map's state and error populations are\n" +
	"actors that talk only by messages over a bus. The coordinator loads the images, clamps\n" +
	"them, gathers the outputs and prints the paper's metrics (as `ngc eval`) and the runtime's\n" +
	"figures (messages, bytes, per-actor counts, msgs/s, bytes/s); it writes a JSON report and a\n" +
	"PNG grid. With --learn it also trains over the mini-batches (each batch's reconstruction is\n" +
	"measured before its update) and saves the trained model.\n\n" +
	"With no flags beyond --model every actor runs in this process on the in-process bus.\n" +
	"--bus embedded starts a NATS server in this process and prints its URL; --bus nats://...\n" +
	"joins an existing server. With --placement, the populations placed on other nodes run in\n" +
	"`ngc worker --bus URL --run ID --node NAME` processes, which get the circuit, parameters,\n" +
	"config and placement from this coordinator; a lost node or message fails the run within\n" +
	"--timeout, naming it. Every completed mini-batch goes into a journal (--journal); after a\n" +
	"failure, relaunch the workers and run the same command with --resume to continue.\n\n" +
	"Dynamics flags given here (--T, --beta, --gamma, --top-mean, --top-std) replace the model's\n" +
	"own settings, in every node.\n\n" +
	"--encoding sigma-delta --threshold θ sends only the units whose value moved by more than θ\n" +
	"since what the receivers hold, and the receivers update their sums by the changes alone;\n" +
	"θ = 0 gives the dense run's results bit for bit (sync). The same images are first run with\n" +
	"dense messages, in this process (--no-dense skips it), and both runs' messages, bytes and\n" +
	"synaptic operations per image and step, MSE and final energy are printed side by side.\n" +
	"With --learn, --val-images N measures the actors' model on N validation images every\n" +
	"--val-every mini-batches (the report's curve: MSE against image-updates, messages, time)."

// runFlags are the flags of `ngc run`; those of the run itself bind to
// deploy.Settings.
type runFlags struct {
	deploy.Settings
	model, split, task, save, fire string
	busURL, listen, placement      string
	out                            string
	quiet                          bool
	df                             dataFlags
	dyn                            dynamicsFlags
	enc                            encodingFlags
	valImages                      int
	bf                             busFlags
	of                             opsFlags
}

func (rf *runFlags) register(e *env) *pflag.FlagSet {
	fs := newFlags(e, "run", "--model FILE [flags]", runDoc)
	s, as := &rf.Settings, &rf.Async
	fs.StringVar(&rf.model, "model", "", "trained model (safetensors) to run (required)")
	rf.df.register(fs, 0)
	fs.StringVar(&rf.split, "split", "test", "split to run on: train, validation or test")
	fs.StringVar(&rf.task, "task", "recon", "recon (reconstruction) or denoise")
	fs.Float64Var(&s.NoiseStd, "noise-std", 0.1, "standard deviation of the denoising noise, on [0,1] pixels")
	fs.BoolVar(&s.NoClip, "no-clip", false, "do not clip noisy pixels to [0,1]")
	fs.BoolVar(&s.Learn, "learn", false, "train: apply the local update after every mini-batch (reconstruction only), in order, without shuffling")
	fs.IntVar(&s.Epochs, "epochs", 1, "passes over the images with --learn (a last partial mini-batch is skipped)")
	fs.StringVar(&rf.save, "save", "", "where --learn writes the trained model (default: <model>-run.safetensors)")
	fs.StringVar(&s.Mode, "mode", "sync", "runner: sync (step-tagged dataflow, reproduces the batched reference) or async (actors fire on arrival with the latest inputs)")
	fs.IntVar(&as.Budget, "budget", 0, "--mode async: corrections per state map and mini-batch (0: T)")
	fs.IntVar(&as.MaxLag, "max-lag", 0, "--mode async: correct only with inputs at most this many versions old (0: no bound)")
	fs.DurationVar(&as.WallClock, "wall-clock", 0, "--mode async: end a mini-batch's corrections after this long (0: no bound)")
	fs.DurationVar(&as.Delay, "delay", 0, "hold every message this long at its receiver (an injected link latency, both modes)")
	fs.DurationVar(&as.DelayJitter, "delay-jitter", 0, "add to each link's delay a fixed share of this, drawn per link from --seed (both modes)")
	fs.StringVar(&rf.fire, "fire", "own-error", "--mode async: a state map corrects when its own error advances (own-error), or on any arrival (arrival, the original rule)")
	fs.StringVar(&rf.busURL, "bus", "inproc", "inproc (this process only), embedded (a NATS server in this process), or a NATS URL nats://HOST:PORT")
	fs.StringVar(&rf.listen, "listen", "127.0.0.1:0", "address of the --bus embedded server; 0.0.0.0:4222 lets other machines join")
	fs.StringVar(&rf.placement, "placement", "", "placement JSON assigning populations to nodes (default: all on --node)")
	fs.StringVar(&s.Node, "node", "coordinator", "this process's node name: it hosts the populations the placement gives it")
	fs.StringVar(&s.RunID, "run", "run", "run id: the first token of every subject, shared with the workers")
	fs.IntVar(&s.Batch, "batch", 0, "mini-batch size (0: the model's, at most the number of images)")
	rf.dyn.zeroSteps = true
	rf.dyn.register(fs)
	rf.enc.register(fs, true)
	fs.IntVar(&rf.valImages, "val-images", 0, "--learn: measure the model on this many images of the validation split during training (0: none)")
	fs.IntVar(&s.ValidateEvery, "val-every", 10, "--learn with --val-images: measure every this many mini-batches (and before the first, after the last)")
	fs.Uint64Var(&s.Seed, "seed", 1, "seed of the noise and the initial top states")
	fs.DurationVar(&s.Timeout, "timeout", circuit.DefaultTimeout, "fail when the run makes no progress or a node is silent for this long")
	fs.DurationVar(&s.JoinTimeout, "join-timeout", deploy.DefaultJoinTimeout, "how long to wait for the placement's workers to join")
	fs.StringVar(&rf.out, "out", "", "JSON report path (default: <model>-run.json; the PNG grid goes beside it)")
	fs.StringVar(&s.Journal, "journal", "", "journal directory of the completed mini-batches (default: <report>.journal)")
	fs.BoolVar(&s.Resume, "resume", false, "continue the journal's failed run from its last completed mini-batch (same flags otherwise)")
	fs.BoolVar(&rf.quiet, "quiet", false, "no progress bar")
	rf.bf.register(fs)
	rf.of.register(fs)
	return fs
}

// check refuses contradictory flags and parses --task and --fire.
func (rf *runFlags) check() error {
	s, as := &rf.Settings, rf.Async
	switch {
	case rf.model == "":
		return fmt.Errorf("run: --model is required")
	case s.Timeout <= 0 || s.JoinTimeout <= 0:
		return fmt.Errorf("run: --timeout and --join-timeout must be positive")
	case s.Epochs < 1:
		return fmt.Errorf("run: --epochs %d must be at least 1", s.Epochs)
	case s.Batch < 0 || rf.dyn.steps < 0:
		return fmt.Errorf("run: --batch and --T must not be negative")
	case rf.save != "" && !s.Learn:
		return fmt.Errorf("run: --save needs --learn")
	case rf.busURL == "inproc" && !rf.bf.IsZero():
		return fmt.Errorf("run: connection flags (--token, --user, --creds, --tls-*) need --bus embedded or a NATS URL")
	case s.Mode != deploy.ModeSync && s.Mode != deploy.ModeAsync:
		return fmt.Errorf("run: --mode %q: want sync or async", s.Mode)
	case rf.fire != "own-error" && rf.fire != "arrival":
		return fmt.Errorf("run: --fire %q: want own-error or arrival", rf.fire)
	case s.Mode == deploy.ModeSync && (as.Budget != 0 || as.MaxLag != 0 || as.WallClock != 0 || rf.fire != "own-error"):
		return fmt.Errorf("run: --budget, --max-lag, --wall-clock and --fire need --mode async")
	case as.Budget < 0 || as.MaxLag < 0 || as.WallClock < 0 || as.Delay < 0 || as.DelayJitter < 0:
		return fmt.Errorf("run: --budget, --max-lag, --wall-clock and --delay* must not be negative")
	case rf.valImages < 0 || s.ValidateEvery < 1:
		return fmt.Errorf("run: --val-images must not be negative and --val-every must be at least 1")
	case rf.valImages > 0 && !s.Learn:
		return fmt.Errorf("run: --val-images needs --learn")
	}
	t, err := ngc.ParseTask(rf.task)
	if err != nil {
		return fmt.Errorf("run: --%w", err)
	}
	if s.Learn && t != ngc.Reconstruct {
		return fmt.Errorf("run: --learn trains on reconstruction; drop --task %s", rf.task)
	}
	s.Task, s.Async.FireOnArrival = t, rf.fire == "arrival"
	for name, v := range map[string]string{"--run": s.RunID, "--node": s.Node} {
		if err := bus.ValidToken(v); err != nil {
			return fmt.Errorf("run: %s: %w", name, err)
		}
	}
	return nil
}

// encodingFlags are the message-encoding flags of `ngc run` and `ngc hwsim`.
type encodingFlags struct {
	scheme    string
	threshold float64
	relative  bool
	rebase    int
	noDense   bool
}

// register adds the flags; with noDense, also --no-dense (ngc run, which
// runs the dense reference itself).
func (f *encodingFlags) register(fs *pflag.FlagSet, noDense bool) {
	fs.StringVar(&f.scheme, "encoding", "dense", "map messages: dense (every unit, every step) or sigma-delta (the units that moved by more than --threshold)")
	fs.Float64Var(&f.threshold, "threshold", 0, "--encoding sigma-delta: θ ≥ 0, the change a unit must exceed to be sent (0: every change; bit for bit dense in sync mode)")
	fs.BoolVar(&f.relative, "relative", false, "--encoding sigma-delta: θ relative to the map's scale (θ × the RMS of each image's map in the message)")
	fs.IntVar(&f.rebase, "rebase", 0, "--encoding sigma-delta: receivers recompute their sums whole every K computations (0: at the start of every window only)")
	if noDense {
		fs.BoolVar(&f.noDense, "no-dense", false, "--encoding sigma-delta: do not first run the same images with dense messages for comparison")
	}
}

// encoding checks the flags and returns the encoding they describe.
func (f *encodingFlags) encoding(cmd string) (neuron.Encoding, error) {
	s, err := neuron.ParseScheme(f.scheme)
	if err != nil {
		return neuron.Encoding{}, fmt.Errorf("%s: --encoding %q: want dense or sigma-delta", cmd, f.scheme)
	}
	if err := checkRules(cmd,
		rule{"threshold", f.threshold, f.threshold >= 0 && !math.IsInf(f.threshold, 0), "a finite θ ≥ 0"},
		rule{"rebase", f.rebase, f.rebase >= 0, "0 (at window starts only) or more"},
	); err != nil {
		return neuron.Encoding{}, err
	}
	if s == neuron.Dense && (f.threshold != 0 || f.relative || f.rebase != 0 || f.noDense) {
		return neuron.Encoding{}, fmt.Errorf("%s: --threshold, --relative, --rebase and --no-dense need --encoding sigma-delta", cmd)
	}
	return neuron.Encoding{Scheme: s, Threshold: f.threshold, Relative: f.relative, Rebase: f.rebase}, nil
}
