package experiment

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePairs(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []Pair
		ok   bool
	}{
		{nil, nil, true},
		{[]string{"color-mnist:cifar10", "cifar10:svhn"}, []Pair{{"color-mnist", "cifar10"}, {"cifar10", "svhn"}}, true},
		{[]string{"color-mnist:cifar10", "cifar10"}, nil, false},
	} {
		got, err := ParsePairs(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePairs(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		tables, want []string
	}{
		{[]string{"all"}, TableNames()},
		{[]string{"1", "2b"}, []string{"1", "2b"}},
		{[]string{"all", "1"}, []string{"all", "1"}}, // Validate refuses it
	} {
		p := Protocol{Tables: tc.tables}
		p.ConvNGC.Steps = 30
		got := p.Complete()
		if !slices.Equal(got.Tables, tc.want) || got.FC.Steps != 30 {
			t.Errorf("Complete(%q): tables %q, FC steps %d", tc.tables, got.Tables, got.FC.Steps)
		}
	}
}

func TestResultsDescribe(t *testing.T) {
	r := &Results{Trials: make([]Trial, 3), Trained: 2, Evaluated: 5, Reused: 1, Files: []string{"tables.md", "trials.csv"}}
	want := "trials: 3 (trained 2 models, computed 5 evaluations, reused 1 stored trials) in 2s\noutputs in out: tables.md, trials.csv\n"
	if got := r.Describe("out", 2200*time.Millisecond); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	r.Ignored = 4
	if got := r.Describe("out", 0); !strings.Contains(got, "ignored 4 stored trial files of other protocols in out/trials\n") {
		t.Errorf("Describe = %q", got)
	}
}

// TestView: trials done or reused are one line each; a quiet view shows
// nothing else, and off a terminal the progress is plain lines at most.
func TestView(t *testing.T) {
	for _, quiet := range []bool{true, false} {
		var buf bytes.Buffer
		v := NewView(&buf, quiet, time.Now())
		for _, ev := range []Event{
			{Job: 1, Jobs: 2, Name: "conv-ae_cifar10_t1", Stage: "reuse", Message: "MSE 30"},
			{Job: 2, Jobs: 2, Name: "conv-ngc_cifar10_t1", Stage: "train", Done: 10, Total: 100},
			{Job: 2, Jobs: 2, Name: "conv-ngc_cifar10_t1", Stage: "eval", Message: "denoise", Done: 5, Total: 10},
			{Job: 2, Jobs: 2, Name: "conv-ngc_cifar10_t1", Stage: "done", Message: "MSE 20"},
		} {
			v.Event(ev)
		}
		v.Done()
		out := buf.String()
		if !strings.Contains(out, "[1/2 0s] conv-ae_cifar10_t1 reused: MSE 30\n") || !strings.Contains(out, "] conv-ngc_cifar10_t1 done: MSE 20\n") {
			t.Errorf("quiet %v: %q", quiet, out)
		}
		if n := strings.Count(out, "\n"); quiet && n != 2 {
			t.Errorf("quiet view wrote %d lines: %q", n, out)
		}
	}
}
