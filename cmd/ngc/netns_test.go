package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMultiHostNetns runs docs/deploy/netns.sh: a NATS server and the
// coordinator in one network namespace, a worker in each of two others,
// joined by veth pairs. A link cut mid-run fails the run within the timeout
// naming the worker, and --resume then ends with the uninterrupted run's
// result; under 20 ms ± 5 ms per link the sync result is unchanged and the
// async staleness is reported. It needs root, ip and nats-server, and says
// which is missing when it skips.
func TestMultiHostNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts network namespaces and processes")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	for _, tool := range []string{"ip", "nats-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (.ci/run installs nats-server with apt-get): %v", tool, err)
		}
	}
	probe := fmt.Sprintf("ngcprobe%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v: %s", err, bytes.TrimSpace(out))
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()

	f := newDeployFixture(t)
	p := `{"nodes": {"coordinator": ["z.0.*"], "w1": ["e.0.*", "z.1.0", "z.1.1", "z.1.2", "e.1.0", "e.1.1", "e.1.2"],
		"w2": ["z.1.3", "z.1.4", "z.1.5", "e.1.3", "e.1.4", "e.1.5", "z.2.*"]}}`
	placement := filepath.Join(f.dir, "netns-placement.json")
	if err := os.WriteFile(placement, []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "netns")
	script, err := filepath.Abs("../../docs/deploy/netns.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, ngcBinary, f.model, placement, out,
		"--max-images", "40", "--batch", "4", "--T", "20")
	cmd.Env = append(os.Environ(), "TIMEOUT=2s")
	start := time.Now()
	b, err := cmd.CombinedOutput()
	t.Logf("docs/deploy/netns.sh (%v):\n%s", time.Since(start).Round(time.Second), b)
	if err != nil {
		t.Fatalf("netns.sh: %v", err)
	}
	log := string(b)
	m := regexp.MustCompile(`failed (\d+) ms after the cut`).FindStringSubmatch(log)
	if m == nil {
		t.Fatal("no cut timing")
	}
	if ms, _ := strconv.Atoi(m[1]); ms > 2000+3000 {
		t.Errorf("the cut was noticed after %d ms, timeout 2s", ms)
	}

	whole := readRunReport(t, filepath.Join(out, "whole.json"))
	for _, name := range []string{"cut", "latency"} {
		r := readRunReport(t, filepath.Join(out, name+".json"))
		if r.Result.Report != whole.Result.Report || r.Result.Images != 40 {
			t.Errorf("%s: metrics %+v on %d images, uninterrupted %+v", name, r.Result.Report, r.Result.Images, whole.Result.Report)
		}
	}
	lat := readRunReport(t, filepath.Join(out, "latency.json"))
	t.Logf("sync over the namespaces: %.2f s; with 20±5 ms per link: %.2f s", whole.Runtime.Seconds, lat.Runtime.Seconds)
	as := readRunReport(t, filepath.Join(out, "async.json"))
	if as.Runtime.Async == nil || len(as.Runtime.Async.StateLag) == 0 || math.IsNaN(as.Result.Report.MSE) {
		t.Errorf("async run reported no staleness: %+v", as.Runtime.Async)
	} else {
		t.Logf("async, max lag 2, 20±5 ms: MSE %.2f (sync %.2f), state-input lag mean %.2f max %d",
			as.Result.Report.MSE, whole.Result.Report.MSE, as.Runtime.Async.MeanStateLag, as.Runtime.Async.MaxStateLag)
	}
	if !strings.Contains(log, "netns: all cases passed") {
		t.Error("the script did not finish")
	}
}
