// Package testpki mints a throw-away certificate authority and certificates for tests: a server
// certificate for 127.0.0.1 and localhost, and client certificates with chosen subjects, written
// as PEM files. It is test support only; nothing in the broker imports it.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is a CA whose files live in Dir.
type PKI struct {
	Dir    string
	CAFile string // PEM CA certificate

	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	next  int64
}

// New creates a CA in dir.
func New(dir string) (*PKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bulwark test CA", Organization: []string{"Bulwark"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), ca: ca, caKey: key, next: 2}
	return p, writePEM(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// Pair is a certificate and its key as PEM files, plus both in one file (what
// ssl.keystore.type=PEM with ssl.keystore.location expects).
type Pair struct {
	CertFile, KeyFile, BundleFile string
}

// Server mints a server certificate for 127.0.0.1, ::1 and localhost.
func (p *PKI) Server(name string) (Pair, error) {
	return p.mint(name, pkix.Name{CommonName: "localhost"}, true)
}

// Client mints a client certificate with the given subject.
func (p *PKI) Client(name string, subject pkix.Name) (Pair, error) {
	return p.mint(name, subject, false)
}

func (p *PKI) mint(name string, subject pkix.Name, server bool) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.next),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	p.next++
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return Pair{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	pair := Pair{
		CertFile:   filepath.Join(p.Dir, name+".crt.pem"),
		KeyFile:    filepath.Join(p.Dir, name+".key.pem"),
		BundleFile: filepath.Join(p.Dir, name+".pem"),
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{pair.CertFile, certPEM}, {pair.KeyFile, keyPEM}, {pair.BundleFile, append(append([]byte{}, certPEM...), keyPEM...)}} {
		if err := writePEM(f.path, f.data); err != nil {
			return Pair{}, err
		}
	}
	return pair, nil
}

func writePEM(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	return nil
}
