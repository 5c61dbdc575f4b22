package deploy

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/convngc/convngc/bus"
)

// TestTransient: waiting is worth it while no server listens or no route
// to it exists yet; refused credentials and other failures are final.
func TestTransient(t *testing.T) {
	dial := func(errno error) error {
		return fmt.Errorf("bus: connect to nats://10.0.0.1:4222: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errno})
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"no servers", fmt.Errorf("bus: connect: %w", nats.ErrNoServers), true},
		{"no route to host", dial(syscall.EHOSTUNREACH), true},
		{"network unreachable", dial(syscall.ENETUNREACH), true},
		{"refused", dial(syscall.ECONNREFUSED), true},
		{"authorization", fmt.Errorf("bus: connect: %w: %w", bus.ErrAuth, nats.ErrAuthorization), false},
		{"read after dial", fmt.Errorf("x: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), false},
		{"other", errors.New("nats: invalid connection URL"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("%s: transient = %v, want %v", c.name, got, c.want)
		}
	}
}
