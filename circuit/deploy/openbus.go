package deploy

import (
	"fmt"
	"time"

	"github.com/convngc/convngc/bus"
)

// Bus kinds of BusSpec.URL besides a NATS URL.
const (
	// BusInProc is the in-process bus: every actor in this process.
	BusInProc = "inproc"
	// BusEmbedded is a NATS server started in this process, which workers
	// on other machines can join at its URL.
	BusEmbedded = "embedded"
)

// BusSpec says which bus a coordinator runs on.
type BusSpec struct {
	// URL is BusInProc, BusEmbedded or a NATS server's URL.
	URL string
	// Name names the connection, ServerName the embedded server.
	Name, ServerName string
	// Listen is the embedded server's address (host:port; "" or port 0: a
	// free loopback port); Token the token it requires of its clients.
	Listen, Token string
	// Options are the NATS connection's options (credentials, TLS) for a
	// server URL.
	Options []bus.Option
	// OnError receives the bus's asynchronous errors (nil: dropped).
	OnError func(error)
	// Linger, with an embedded server, is how long Close waits at most for
	// the server's other clients (the workers) to leave before shutting it
	// down, so that they read the end of the run.
	Linger time.Duration
}

// OpenedBus is a bus a coordinator opened, and how to close it.
type OpenedBus struct {
	// Bus is the bus to hand Run (WithBus): a *bus.InProc or a *bus.NATS.
	Bus bus.Bus
	// Kind is "inproc", "embedded" or "nats".
	Kind string
	// URL is the embedded server's client URL ("" otherwise).
	URL   string
	close func()
}

// Close closes the bus (and stops an embedded server, after Linger at most).
func (o *OpenedBus) Close() { o.close() }

// OpenBus opens the bus spec describes: the in-process bus, an embedded NATS
// server and a connection to it, or a connection to a NATS server.
func OpenBus(spec BusSpec) (*OpenedBus, error) {
	onErr := spec.OnError
	if onErr == nil {
		onErr = func(error) {}
	}
	switch spec.URL {
	case BusInProc:
		b, err := bus.NewInProc(bus.WithErrorHandler(onErr))
		if err != nil {
			return nil, fmt.Errorf("in-process bus: %w", err)
		}
		return &OpenedBus{Bus: b, Kind: BusInProc, close: func() { b.Close() }}, nil
	case BusEmbedded:
		return openEmbedded(spec, onErr)
	}
	opts := append([]bus.Option{bus.WithName(spec.Name), bus.WithErrorHandler(onErr)}, spec.Options...)
	b, err := bus.Connect(spec.URL, opts...)
	if err != nil {
		return nil, err
	}
	return &OpenedBus{Bus: b, Kind: "nats", close: func() { b.Close() }}, nil
}

// openEmbedded starts an embedded server and connects to it.
func openEmbedded(spec BusSpec, onErr func(error)) (*OpenedBus, error) {
	var sopts []bus.EmbeddedOption
	if spec.Listen != "" {
		sopts = append(sopts, bus.ServerAddr(spec.Listen))
	}
	if spec.ServerName != "" {
		sopts = append(sopts, bus.ServerName(spec.ServerName))
	}
	if spec.Token != "" {
		sopts = append(sopts, bus.ServerToken(spec.Token))
	}
	srv, err := bus.StartEmbedded(sopts...)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	b, err := srv.Connect(bus.WithName(spec.Name), bus.WithErrorHandler(onErr))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connect to the embedded server: %w", err)
	}
	return &OpenedBus{Bus: b, Kind: BusEmbedded, URL: srv.ClientURL(), close: func() {
		b.Close()
		for deadline := time.Now().Add(spec.Linger); srv.Server().NumClients() > 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		srv.Shutdown()
	}}, nil
}
