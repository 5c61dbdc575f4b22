package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/convngc/convngc/circuit/deploy"
)

func TestPaths(t *testing.T) {
	for _, tc := range []struct {
		model, report, journal, save string
		learn                        bool
		want                         [3]string
	}{
		{"m.safetensors", "", "", "", false, [3]string{"m-run.json", "m-run.journal", ""}},
		{"dir/m.safetensors", "", "", "", true, [3]string{"dir/m-run.json", "dir/m-run.journal", "dir/m-run.safetensors"}},
		{"m.safetensors", "out/r.json", "", "", false, [3]string{"out/r.json", "out/r.journal", ""}},
		{"m.safetensors", "r.json", "j", "s.safetensors", true, [3]string{"r.json", "j", "s.safetensors"}},
	} {
		r, j, s := deploy.Paths(tc.model, tc.report, tc.journal, tc.save, tc.learn)
		if got := [3]string{r, j, s}; got != tc.want {
			t.Errorf("Paths(%q, %q, %q, %q, %v) = %q, want %q", tc.model, tc.report, tc.journal, tc.save, tc.learn, got, tc.want)
		}
	}
}

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   string // a fragment of the line, "" for a refusal
	}{
		{"text", "msg=hello node=a"},
		{"json", `"msg":"hello","node":"a"`},
		{"yaml", ""},
		{"", ""},
	} {
		var buf bytes.Buffer
		log, err := deploy.NewLogger(&buf, tc.format, "node", "a")
		if tc.want == "" {
			if !errors.Is(err, deploy.ErrConfig) {
				t.Errorf("NewLogger(%q): %v, want ErrConfig", tc.format, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("NewLogger(%q): %v", tc.format, err)
		}
		log.Info("hello")
		if !strings.Contains(buf.String(), tc.want) {
			t.Errorf("NewLogger(%q) wrote %q, want %q in it", tc.format, buf.String(), tc.want)
		}
	}
}

// TestDocument: the JSON report says how the run went and with which
// settings; async settings only in async mode, the dense reference's
// figures only when there is one.
func TestDocument(t *testing.T) {
	m, set := exampleModel()
	rep, err := deploy.Run(t.Context(), m, set)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		s      deploy.Settings
		runErr error
		dense  *deploy.Report
		want   map[string]any
	}{
		{"ok", deploy.Settings{RunID: "r", Mode: deploy.ModeSync, Seed: 2}, nil, nil,
			map[string]any{"status": "ok", "error": "", "mode": "sync", "async": nil, "run": "r", "seed": 2.0, "clip": true, "batches_done": 2.0, "bus": "inproc"}},
		{"failed async", deploy.Settings{Mode: deploy.ModeAsync, NoClip: true, Async: deploy.AsyncSettings{Budget: 4, WallClock: time.Second}},
			errors.New("lost node b"), rep,
			map[string]any{"status": "failed", "error": "lost node b", "clip": false,
				"async": map[string]any{"budget": 4.0, "max_lag": 0.0, "wall_clock": "1s", "delay": "0s", "delay_jitter": "0s", "fire": "own-error"}}},
	} {
		b, err := json.Marshal(rep.Document(tc.s, tc.runErr, tc.dense))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.want {
			got, _ := json.Marshal(doc[k])
			want, _ := json.Marshal(v)
			if string(got) != string(want) {
				t.Errorf("%s: %s = %s, want %s", tc.name, k, got, want)
			}
		}
		if _, ok := doc["dense"]; ok != (tc.dense != nil) {
			t.Errorf("%s: dense figures present %v, want %v", tc.name, ok, tc.dense != nil)
		}
	}
}

func TestAsyncFire(t *testing.T) {
	if got := (deploy.AsyncSettings{FireOnArrival: true}).Fire(); got != "arrival" {
		t.Errorf("Fire() = %q", got)
	}
	if got := (deploy.AsyncSettings{}).Fire(); got != "own-error" {
		t.Errorf("Fire() = %q", got)
	}
}
