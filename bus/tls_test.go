package bus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a throw-away CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bus test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvCert, srvKey := issue(2, x509.ExtKeyUsageServerAuth)
	server, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey := issue(3, x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{
		caFile:   write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		certFile: write("client.pem", cliCert),
		keyFile:  write("client-key.pem", cliKey),
		server:   server,
		pool:     pool,
	}
}

func TestNATSMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	e := startEmbedded(t, ServerTLS(&tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
		MinVersion:   tls.VersionTLS12,
	}))
	if !strings.HasPrefix(e.ClientURL(), "tls://127.0.0.1:") {
		t.Fatalf("ClientURL %q", e.ClientURL())
	}
	tests := []struct {
		name string
		opts []Option
		ok   bool
	}{
		{"CA and client cert", []Option{WithRootCAs(pki.caFile), WithClientCert(pki.certFile, pki.keyFile)}, true},
		{"tls.Config", []Option{WithTLSConfig(&tls.Config{
			RootCAs: pki.pool, MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				c, err := tls.LoadX509KeyPair(pki.certFile, pki.keyFile)
				return &c, err
			},
		})}, true},
		{"no client cert", []Option{WithRootCAs(pki.caFile)}, false},
		{"unknown server CA", []Option{WithClientCert(pki.certFile, pki.keyFile)}, false},
		{"missing CA file", []Option{WithRootCAs(filepath.Join(t.TempDir(), "none.pem"))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]Option{WithConnectTimeout(2 * time.Second), WithNoReconnect()}, tt.opts...)
			b, err := Connect(e.ClientURL(), opts...)
			if !tt.ok {
				if err == nil {
					b.Close()
					t.Fatal("connected")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			h, ch := chanHandler(1)
			if _, err := b.Subscribe("r1.z.>", h); err != nil {
				t.Fatal(err)
			}
			want := testFrame(4, 8, 8, noise(2, 256))
			keep := want.Clone()
			if err := b.Publish(ctxT(t), "r1.z.0.1", want); err != nil {
				t.Fatal(err)
			}
			sameFrame(t, recv(t, ch).f, keep)
		})
	}
	// In-process connections skip TLS.
	b, err := e.Connect(WithConnectTimeout(2 * time.Second))
	if err != nil {
		t.Fatalf("in-process connection to a TLS server: %v", err)
	}
	b.Close()
	if _, err := StartEmbedded(ServerTLS(nil)); err == nil {
		t.Fatal("nil TLS config accepted")
	}
}
