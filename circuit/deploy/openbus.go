package deploy

import (
	"fmt"
	"time"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit"
	"github.com/convngc/convngc/ngc"
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

// RemoteNodes lists, sorted, the nodes other than self on which placement
// p puts populations of m's circuit: the nodes whose workers a run waits
// for, and which the in-process bus cannot reach.
func RemoteNodes(m *ngc.Model, p *circuit.Placement, self string) ([]string, error) {
	c, err := circuit.FromModel(m)
	if err != nil {
		return nil, err
	}
	assign, err := p.Assign(c.Graph)
	if err != nil {
		return nil, err
	}
	return remoteNodes(assign, self), nil
}

// Credentials are how a node authenticates to a NATS server and verifies
// it: a token, a user and password, or a credentials file (JWT and NKey
// seed); TLS with CA certificates to trust and a client certificate.
type Credentials struct {
	Token, User, Password, File string
	TLSCA, TLSCert, TLSKey      string
}

// IsZero says whether no credential is set.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// Options returns the bus options of the credentials. A password without
// a user, or a client certificate without its key (or the reverse), is an
// error wrapping ErrConfig.
func (c Credentials) Options() ([]bus.Option, error) {
	var opts []bus.Option
	if c.Token != "" {
		opts = append(opts, bus.WithToken(c.Token))
	}
	switch {
	case c.Password != "" && c.User == "":
		return nil, fmt.Errorf("%w: a password needs a user name", ErrConfig)
	case c.User != "":
		opts = append(opts, bus.WithUserInfo(c.User, c.Password))
	}
	if c.File != "" {
		opts = append(opts, bus.WithCredentials(c.File))
	}
	if c.TLSCA != "" {
		opts = append(opts, bus.WithRootCAs(c.TLSCA))
	}
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return nil, fmt.Errorf("%w: a TLS client certificate and its key go together", ErrConfig)
	case c.TLSCert != "":
		opts = append(opts, bus.WithClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}
