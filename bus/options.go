package bus

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nats.go"
)

// Option configures a bus, in the style of nats.go's options. Options that
// concern a NATS connection (credentials, TLS, timeouts, reconnects) are
// ignored by NewInProc; the others apply to both buses.
type Option func(*options) error

// Defaults for subscription queues.
const (
	// DefaultQueueLen is the default bound, in frames, of a subscription's
	// queue.
	DefaultQueueLen = 256
	// DefaultPendingBytes is the default bound, in bytes, of a NATS
	// subscription's queue.
	DefaultPendingBytes = 256 << 20
	// DefaultFlushTimeout bounds NATS.Flush when its context has no
	// deadline.
	DefaultFlushTimeout = 10 * time.Second
)

type options struct {
	limits       Limits
	compression  Compression
	onError      func(error)
	queueLen     int
	pendingBytes int
	verify       bool
	inProcess    InProcessConnProvider
	nats         []nats.Option
}

func buildOptions(opts []Option) (options, error) {
	o := options{queueLen: DefaultQueueLen, pendingBytes: DefaultPendingBytes}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, fmt.Errorf("bus: option: %w", err)
		}
	}
	o.limits = o.limits.withDefaults()
	return o, nil
}

// report passes err to the error handler, if any.
func (o *options) report(err error) {
	if o.onError != nil {
		o.onError(err)
	}
}

func withNATS(opt nats.Option) Option {
	return func(o *options) error {
		o.nats = append(o.nats, opt)
		return nil
	}
}

// WithLimits sets the limits frames are checked against, on Publish and
// when decoding received frames. Zero fields keep their defaults. A NATS
// server enforces its own max_payload as well (see Embedded).
func WithLimits(l Limits) Option {
	return func(o *options) error {
		if l.MaxPayload < 0 || l.MaxString < 0 {
			return fmt.Errorf("negative limit in %+v", l)
		}
		o.limits = l
		return nil
	}
}

// WithCompression sets how the NATS bus stores payloads (default
// CompressAuto). The in-process bus never serialises.
func WithCompression(c Compression) Option {
	return func(o *options) error {
		if c > CompressSnappy {
			return fmt.Errorf("unknown compression %v", c)
		}
		o.compression = c
		return nil
	}
}

// WithErrorHandler sets a function that receives the errors no call can
// return: rejected frames (*FrameError, naming subject and sender), slow
// consumers (ErrSlowConsumer), lost connections. Every such event is also
// counted in Stats. The handler may be called from several goroutines at
// once and should return quickly.
func WithErrorHandler(h func(error)) Option {
	return func(o *options) error {
		o.onError = h
		return nil
	}
}

// WithQueueLen sets the default bound, in frames, of each subscription's
// queue (default DefaultQueueLen); QueueLen overrides it per subscription.
func WithQueueLen(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("queue length %d, want ≥ 1", n)
		}
		o.queueLen = n
		return nil
	}
}

// WithPendingBytes sets the default bound, in bytes, of each NATS
// subscription's queue (default DefaultPendingBytes); PendingBytes
// overrides it per subscription.
func WithPendingBytes(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("pending bytes %d, want ≥ 1", n)
		}
		o.pendingBytes = n
		return nil
	}
}

// WithVerify makes the in-process bus check the ownership rule: it takes a
// CRC-32C of each payload at Publish and checks it again before every
// delivery; a frame modified in between is rejected (ErrChecksum), counted
// and reported. It costs one checksum pass per delivery; use it in tests.
func WithVerify() Option {
	return func(o *options) error {
		o.verify = true
		return nil
	}
}

// InProcessConnProvider is anything that hands out in-process connections
// to a NATS server, such as *Embedded or a nats-server *server.Server.
type InProcessConnProvider interface {
	InProcessConn() (net.Conn, error)
}

// WithInProcessServer connects to the given server through an in-memory
// pipe instead of TCP (nats.InProcessServer); the URL is then only used to
// name the server.
func WithInProcessServer(p InProcessConnProvider) Option {
	return func(o *options) error {
		if p == nil {
			return fmt.Errorf("nil in-process server")
		}
		o.inProcess = p
		return nil
	}
}

// WithName sets the connection name shown by the server's monitoring.
func WithName(name string) Option { return withNATS(nats.Name(name)) }

// WithToken authenticates with a token.
func WithToken(token string) Option { return withNATS(nats.Token(token)) }

// WithUserInfo authenticates with a user name and password.
func WithUserInfo(user, password string) Option {
	return withNATS(nats.UserInfo(user, password))
}

// WithCredentials authenticates with a NATS credentials file (JWT and
// NKey seed), as nats.UserCredentials.
func WithCredentials(file string) Option {
	return func(o *options) error {
		if file == "" {
			return fmt.Errorf("empty credentials file name")
		}
		o.nats = append(o.nats, nats.UserCredentials(file))
		return nil
	}
}

// WithRootCAs trusts the PEM certificates in the given files to verify the
// server (and requires TLS).
func WithRootCAs(files ...string) Option { return withNATS(nats.RootCAs(files...)) }

// WithClientCert presents the given PEM certificate and key to the server
// (and requires TLS).
func WithClientCert(certFile, keyFile string) Option {
	return withNATS(nats.ClientCert(certFile, keyFile))
}

// WithTLSConfig uses cfg for TLS (and requires TLS).
func WithTLSConfig(cfg *tls.Config) Option { return withNATS(nats.Secure(cfg)) }

// WithConnectTimeout bounds the dial and handshake (nats default 2 s).
func WithConnectTimeout(d time.Duration) Option { return withNATS(nats.Timeout(d)) }

// WithPingInterval sets how often the client pings the server; with
// maxOut unanswered pings the connection is considered lost, so a dead
// server is noticed within about d·maxOut.
func WithPingInterval(d time.Duration, maxOut int) Option {
	return func(o *options) error {
		o.nats = append(o.nats, nats.PingInterval(d), nats.MaxPingsOutstanding(maxOut))
		return nil
	}
}

// WithReconnect sets how many times (−1: forever) and how often the client
// tries to reconnect after losing the server.
func WithReconnect(max int, wait time.Duration) Option {
	return func(o *options) error {
		o.nats = append(o.nats, nats.MaxReconnects(max), nats.ReconnectWait(wait))
		return nil
	}
}

// WithNoReconnect makes a lost connection final: the bus reports it and
// closes.
func WithNoReconnect() Option { return withNATS(nats.NoReconnect()) }

// WithReconnectBufSize sets how many bytes of publications are buffered
// while reconnecting (nats default 8 MiB, a few large frames); beyond it
// Publish fails.
func WithReconnectBufSize(n int) Option { return withNATS(nats.ReconnectBufSize(n)) }

// WithNATSOptions passes options straight to nats.Connect, for settings
// this package does not wrap. The bus installs its own error, disconnect
// and closed handlers after them.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(o *options) error {
		o.nats = append(o.nats, opts...)
		return nil
	}
}

// SubOption configures one subscription.
type SubOption func(*subOptions) error

type subOptions struct {
	queueLen     int
	pendingBytes int
}

// QueueLen bounds the subscription's queue to n frames.
func QueueLen(n int) SubOption {
	return func(s *subOptions) error {
		if n < 1 {
			return fmt.Errorf("queue length %d, want ≥ 1", n)
		}
		s.queueLen = n
		return nil
	}
}

// PendingBytes bounds a NATS subscription's queue to n bytes of frames
// (ignored in-process, where frames are not copied).
func PendingBytes(n int) SubOption {
	return func(s *subOptions) error {
		if n < 1 {
			return fmt.Errorf("pending bytes %d, want ≥ 1", n)
		}
		s.pendingBytes = n
		return nil
	}
}

func (o *options) subOptions(opts []SubOption) (subOptions, error) {
	s := subOptions{queueLen: o.queueLen, pendingBytes: o.pendingBytes}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&s); err != nil {
			return s, fmt.Errorf("bus: subscribe option: %w", err)
		}
	}
	return s, nil
}
