package main

// What `ngc run` and `ngc worker` share: connection flags, logging, the
// metrics endpoint and the bus's error log. The coordinator, the worker host
// and their protocol are package circuit/deploy.

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/convngc/convngc/bus"
	"github.com/convngc/convngc/circuit/deploy"
)

// busFlags are the NATS connection's credentials and TLS files.
type busFlags struct{ deploy.Credentials }

func (bf *busFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&bf.Token, "token", "", "authenticate to the NATS server with this token (with --bus embedded: the token the server requires)")
	fs.StringVar(&bf.User, "user", "", "authenticate with this user name (and --password)")
	fs.StringVar(&bf.Password, "password", "", "password of --user")
	fs.StringVar(&bf.File, "creds", "", "authenticate with this NATS credentials file (JWT and NKey seed)")
	fs.StringVar(&bf.TLSCA, "tls-ca", "", "trust these PEM CA certificates to verify the server (enables TLS)")
	fs.StringVar(&bf.TLSCert, "tls-cert", "", "present this PEM client certificate to the server (with --tls-key; enables TLS)")
	fs.StringVar(&bf.TLSKey, "tls-key", "", "PEM key of --tls-cert")
}

// options returns the bus options of the flags, named and reporting
// asynchronous bus errors to onErr.
func (bf *busFlags) options(name string, onErr func(error)) ([]bus.Option, error) {
	switch {
	case bf.Password != "" && bf.User == "":
		return nil, fmt.Errorf("--password needs --user")
	case (bf.TLSCert == "") != (bf.TLSKey == ""):
		return nil, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	opts, err := bf.Options()
	return append([]bus.Option{bus.WithName(name), bus.WithErrorHandler(onErr)}, opts...), err
}

// opsFlags are the operators' flags of run and worker: logs and metrics.
type opsFlags struct {
	logFormat   string
	metricsAddr string
}

func (of *opsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&of.logFormat, "log-format", "text", "log lines on stderr as text (key=value) or json")
	fs.StringVar(&of.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address at /metrics, e.g. 127.0.0.1:9464 (empty: none)")
}

// start makes the process's logger (--log-format, writing to w with attrs
// on every line) and its Ops, serving the metrics on --metrics-addr.
func (of *opsFlags) start(w io.Writer, attrs ...any) (*deploy.Ops, error) {
	log, err := deploy.NewLogger(w, of.logFormat, attrs...)
	if err != nil {
		return nil, fmt.Errorf("--log-format %q: want text or json", of.logFormat)
	}
	ops, err := deploy.StartOps(log, of.metricsAddr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	return ops, nil
}
