package neuron

import (
	"errors"
	"testing"
)

// TestSyncRejectsStaleAndDuplicate: the synchronous dataflow never proceeds
// with stale, duplicate or misrouted input — each is a protocol error.
func TestSyncRejectsStaleAndDuplicate(t *testing.T) {
	c := newChain(t, 1, 4, false)
	nop := func(Msg) error { return nil }
	if err := c.top.Handle(Msg{Kind: KindInit, From: c.refTop, Data: clone(c.z1)}, nop); err != nil {
		t.Fatal(err)
	}
	e := func(step int) Msg { return Msg{Kind: KindError, From: c.refE, Step: step, Data: make([]float32, 16)} }
	if err := c.top.Handle(e(1), nop); err != nil { // step 1 complete: the top moves to step 2
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    Msg
	}{
		{"stale step", e(1)},
		{"start twice", Msg{Kind: KindInit, From: c.refTop, Data: clone(c.z1)}},
		{"batch too far ahead", Msg{Kind: KindError, From: c.refE, Batch: 2, Step: 1, Data: make([]float32, 16)}},
		{"sender not below", Msg{Kind: KindError, From: Ref{Role: ErrorRole, Layer: 3, Index: 0}, Step: 2, Data: make([]float32, 16)}},
		{"wrong size", Msg{Kind: KindError, From: c.refE, Step: 3, Data: make([]float32, 4)}},
	}
	for _, tc := range cases {
		if err := c.top.Handle(tc.m, nop); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", tc.name, err)
		}
	}
	// A duplicate of a step that is still waiting for input is refused too.
	if err := c.err.Handle(Msg{Kind: KindPhi, From: c.refTop, Step: 1, Data: make([]float32, 4)}, nop); err != nil {
		t.Fatal(err)
	}
	if err := c.err.Handle(Msg{Kind: KindPhi, From: c.refTop, Step: 1, Data: make([]float32, 4)}, nop); !errors.Is(err, ErrProtocol) {
		t.Errorf("duplicate φ: %v, want ErrProtocol", err)
	}
}
