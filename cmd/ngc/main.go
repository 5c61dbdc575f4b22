// Command ngc trains, evaluates, inspects and benchmarks convolutional
// neural generative coding (Conv-NGC) networks.
//
// Run "ngc help" for the list of sub-commands and "ngc COMMAND --help" for
// the flags of each.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// command is one sub-command of ngc.
type command struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what a sub-command sees of the process.
type env struct {
	stdout, stderr io.Writer
}

func commands() map[string]command {
	return map[string]command{
		"train":      {"train a Conv-NGC model on a data set and evaluate it", runTrain},
		"eval":       {"measure a model's reconstruction or denoising (MSE, PSNR, SSIM)", runEval},
		"inspect":    {"show a model's layers, shapes and parameter counts", runInspect},
		"bench":      {"measure images/s and GFLOP/s of inference and training", runBench},
		"run":        {"run a model in the actor runtime, in-process or across machines (coordinator)", runRun},
		"worker":     {"host a run's actors placed on one node, joined over NATS", runWorker},
		"hwsim":      {"estimate hardware cost and compare sync vs async dynamics in virtual time", runHwsim},
		"baseline":   {"train or evaluate a baseline: Conv-AE, Conv-DAE, fully connected NGC/PCN", runBaseline},
		"experiment": {"reproduce the paper's Tables 1, 2a, 2b and Figures 3, 4 (resumable trials)", runExperiment},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ngc: %s\n", strings.TrimPrefix(err.Error(), "ngc: "))
		os.Exit(1)
	}
}

func run(ctx context.Context, e *env, args []string) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				return c.run(ctx, e, []string{"--help"})
			}
		}
		usage(e.stdout, cmds)
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q (run \"ngc help\")", args[0])
	}
	err := c.run(ctx, e, args[1:])
	if errors.Is(err, pflag.ErrHelp) {
		return nil
	}
	return err
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "ngc simulates convolutional neural generative coding (Conv-NGC): a predictive-coding")
	fmt.Fprintln(w, "network that reconstructs and denoises images by iterative local inference and")
	fmt.Fprintln(w, "Hebbian-like learning.")
	fmt.Fprintln(w, "\nUsage: ngc COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"ngc COMMAND --help\" for a command's flags.")
	fmt.Fprintln(w, "Data: NGC_DATA_DIR points at the data folder (CIFAR-10, SVHN); MNIST comes with the module.")
}

// newFlags returns a flag set for a sub-command whose --help prints the
// command's description and every flag.
func newFlags(e *env, name, synopsis, desc string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: ngc %s %s\n\n%s\n\nFlags:\n%s", name, synopsis, desc, fs.FlagUsages())
	}
	return fs
}

// parse parses args and refuses positional arguments.
func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
