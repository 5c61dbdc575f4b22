package bus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrNotReady reports an embedded server that did not become ready in time.
var ErrNotReady = errors.New("bus: embedded server not ready")

// Defaults of StartEmbedded.
const (
	// DefaultServerMaxPayload is the embedded server's max_payload: the
	// largest frame under the default Limits, rounded up. NATS's own default
	// (1 MiB) is too small for a 500×32×32 map (2 MiB raw).
	DefaultServerMaxPayload = DefaultMaxPayload + 4<<10
	// DefaultServerMaxPending is how many bytes the server queues for one
	// slow client before it disconnects it; it must be at least the max
	// payload, and a burst of a whole step's maps should fit.
	DefaultServerMaxPending = 256 << 20
	// DefaultReadyTimeout bounds the wait for the server to accept clients.
	DefaultReadyTimeout = 5 * time.Second
)

// Embedded is a NATS server running inside this process: the default for
// one machine and for tests, with no install step. It listens on loopback
// with a random port unless told otherwise, and logs nothing by default.
type Embedded struct {
	srv        *server.Server
	token      string
	maxPayload int
}

// EmbeddedOption configures StartEmbedded.
type EmbeddedOption func(*embeddedOptions) error

type embeddedOptions struct {
	host         string
	port         int
	token        string
	maxPayload   int
	maxPending   int64
	readyTimeout time.Duration
	noListen     bool
	logging      bool
	name         string
	tls          *tls.Config
}

// ServerAddr makes the server listen on hostport ("127.0.0.1:4222"); port 0
// picks a free port. The default is "127.0.0.1:0".
func ServerAddr(hostport string) EmbeddedOption {
	return func(o *embeddedOptions) error {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return fmt.Errorf("server address %q: %w", hostport, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > math.MaxUint16 {
			return fmt.Errorf("server address %q: bad port", hostport)
		}
		if p == 0 {
			p = -1 // nats-server: -1 is a random port, 0 the default 4222
		}
		o.host, o.port = host, p
		return nil
	}
}

// ServerToken makes the server require token authentication.
func ServerToken(token string) EmbeddedOption {
	return func(o *embeddedOptions) error {
		if token == "" {
			return errors.New("empty server token")
		}
		o.token = token
		return nil
	}
}

// ServerMaxPayload sets the largest message, in bytes, the server accepts
// (default DefaultServerMaxPayload). Clients learn it on connect, and
// NATS.Publish refuses larger frames with ErrFrameTooLarge.
func ServerMaxPayload(n int) EmbeddedOption {
	return func(o *embeddedOptions) error {
		if n < 1 || n > math.MaxInt32 {
			return fmt.Errorf("server max payload %d out of range", n)
		}
		o.maxPayload = n
		return nil
	}
}

// ServerMaxPending sets how many bytes the server buffers for one client
// before treating it as a slow consumer and disconnecting it (default
// DefaultServerMaxPending; at least the max payload).
func ServerMaxPending(n int64) EmbeddedOption {
	return func(o *embeddedOptions) error {
		if n < 1 {
			return fmt.Errorf("server max pending %d out of range", n)
		}
		o.maxPending = n
		return nil
	}
}

// ServerReadyTimeout bounds the wait for the server to accept clients
// (default DefaultReadyTimeout).
func ServerReadyTimeout(d time.Duration) EmbeddedOption {
	return func(o *embeddedOptions) error {
		if d <= 0 {
			return fmt.Errorf("ready timeout %v, want > 0", d)
		}
		o.readyTimeout = d
		return nil
	}
}

// ServerNoListen opens no TCP port: only in-process connections (Connect,
// WithInProcessServer) reach the server.
func ServerNoListen() EmbeddedOption {
	return func(o *embeddedOptions) error {
		o.noListen = true
		return nil
	}
}

// ServerLogging sends the server's log to standard error.
func ServerLogging() EmbeddedOption {
	return func(o *embeddedOptions) error {
		o.logging = true
		return nil
	}
}

// ServerTLS makes the server require TLS with cfg (its Certificates, and
// ClientCAs with ClientAuth tls.RequireAndVerifyClientCert to demand client
// certificates). ClientURL then starts with "tls://". Connections made
// with Embedded.Connect stay in memory and need no TLS.
func ServerTLS(cfg *tls.Config) EmbeddedOption {
	return func(o *embeddedOptions) error {
		if cfg == nil {
			return errors.New("nil TLS config")
		}
		o.tls = cfg
		return nil
	}
}

// ServerName names the server (shown to clients and in its log).
func ServerName(name string) EmbeddedOption {
	return func(o *embeddedOptions) error {
		o.name = name
		return nil
	}
}

// StartEmbedded starts a NATS server in this process and waits until it
// accepts clients.
func StartEmbedded(opts ...EmbeddedOption) (*Embedded, error) {
	o := embeddedOptions{
		host:         "127.0.0.1",
		port:         -1,
		maxPayload:   DefaultServerMaxPayload,
		maxPending:   DefaultServerMaxPending,
		readyTimeout: DefaultReadyTimeout,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("bus: embedded server: %w", err)
		}
	}
	if o.maxPending < int64(o.maxPayload) {
		o.maxPending = int64(o.maxPayload)
	}
	sopts := &server.Options{
		ServerName:    o.name,
		Host:          o.host,
		Port:          o.port,
		DontListen:    o.noListen,
		NoLog:         !o.logging,
		NoSigs:        true,
		MaxPayload:    int32(o.maxPayload),
		MaxPending:    o.maxPending,
		Authorization: o.token,
	}
	if o.tls != nil {
		sopts.TLS = true
		sopts.TLSConfig = o.tls
		sopts.TLSVerify = o.tls.ClientAuth == tls.RequireAndVerifyClientCert
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	if o.logging {
		srv.ConfigureLogger()
	}
	srv.Start()
	if !srv.ReadyForConnections(o.readyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: embedded server on %s:%d after %v: %w", o.host, o.port, o.readyTimeout, ErrNotReady)
	}
	return &Embedded{srv: srv, token: o.token, maxPayload: o.maxPayload}, nil
}

// ClientURL returns the URL clients connect to over TCP, such as
// "nats://127.0.0.1:38473" (meaningless with ServerNoListen).
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// MaxPayload returns the server's max_payload in bytes.
func (e *Embedded) MaxPayload() int { return e.maxPayload }

// Server returns the underlying nats-server, for what this type does not
// wrap.
func (e *Embedded) Server() *server.Server { return e.srv }

// InProcessConn returns a new in-memory connection to the server, making
// *Embedded an InProcessConnProvider.
func (e *Embedded) InProcessConn() (net.Conn, error) {
	c, err := e.srv.InProcessConn()
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	return c, nil
}

// Connect returns a NATS bus connected to this server in-process (no TCP),
// authenticated with the server's token if it has one. Options are applied
// after those defaults.
//
// A wrong token fails at once with ErrAuth: over an in-memory pipe the
// server's refusal can deadlock with the client's handshake until the
// server's write deadline (10 s), so Connect checks the token itself first.
func (e *Embedded) Connect(opts ...Option) (*NATS, error) {
	base := []Option{WithInProcessServer(e)}
	if e.token != "" {
		base = append(base, WithToken(e.token))
	}
	opts = append(base, opts...)
	if e.token != "" {
		o, err := buildOptions(opts)
		if err != nil {
			return nil, err
		}
		no := nats.GetDefaultOptions()
		for _, opt := range o.nats {
			if err := opt(&no); err != nil {
				return nil, fmt.Errorf("bus: connect in-process: %w", err)
			}
		}
		if no.TokenHandler == nil && no.Token != e.token {
			return nil, fmt.Errorf("bus: connect in-process: %w: token does not match the embedded server's", ErrAuth)
		}
	}
	return Connect(inProcessURL, opts...)
}

// inProcessURL names in-process connections. Its "nats" scheme keeps the
// client from starting TLS over the pipe: the server does not require TLS
// from in-process clients even with ServerTLS.
const inProcessURL = "nats://in-process"

// Shutdown stops the server and closes its client connections. It is safe
// to call more than once.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
}
