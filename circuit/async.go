package circuit

import (
	"context"
	"errors"

	"github.com/convngc/convngc/neuron"
)

// AsyncOptions configure asynchronous runs.
type AsyncOptions struct{}

// AsyncReport describes an asynchronous run.
type AsyncReport struct{}

type asyncState struct{}

func newAsyncState(s *Session, p population) *asyncState { return nil }

func (s *Session) runAsync(a *actor, emit neuron.Emit) {}

func (s *Session) runBatchAsync(ctx context.Context, x []float32) (*Result, error) {
	return nil, errors.New("todo")
}
