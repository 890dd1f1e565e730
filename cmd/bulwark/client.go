package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientFlags are how the admin commands (`bulwark users`) reach a running broker. Secrets come
// from environment variables, never from the command line, where `ps` would show them.
type clientFlags struct {
	bootstrap   string
	mechanism   string
	user        string
	passwordEnv string
	tls         bool
	caFile      string
	certFile    string
	keyFile     string
	serverName  string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.bootstrap, "bootstrap-server", "127.0.0.1:9092", "broker address, host:port")
	f.registerSecurity(fs)
}

// registerSecurity registers the TLS and SASL flags only (bulwark bench names its brokers itself).
func (f *clientFlags) registerSecurity(fs *flag.FlagSet) {
	fs.StringVar(&f.mechanism, "sasl-mechanism", "", "SASL mechanism to log in with: SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN (empty: no SASL)")
	fs.StringVar(&f.user, "sasl-user", "", "SASL user name")
	fs.StringVar(&f.passwordEnv, "sasl-password-env", "BULWARK_SASL_PASSWORD", "environment variable holding the SASL password")
	fs.BoolVar(&f.tls, "tls", false, "connect with TLS")
	fs.StringVar(&f.caFile, "tls-ca", "", "PEM file of CA certificates to trust (default: the system's)")
	fs.StringVar(&f.certFile, "tls-cert", "", "PEM client certificate, for mutual TLS")
	fs.StringVar(&f.keyFile, "tls-key", "", "PEM client private key, for mutual TLS")
	fs.StringVar(&f.serverName, "tls-server-name", "", "host name to verify the broker's certificate against (default: the bootstrap host)")
}

// options turns the flags into franz-go client options.
func (f *clientFlags) options() ([]kgo.Opt, error) {
	sec, err := f.securityOptions()
	if err != nil {
		return nil, err
	}
	return append([]kgo.Opt{kgo.SeedBrokers(strings.Split(f.bootstrap, ",")...)}, sec...), nil
}

// securityOptions turns the TLS and SASL flags into franz-go client options.
func (f *clientFlags) securityOptions() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if f.tls || f.caFile != "" || f.certFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.serverName}
		if f.caFile != "" {
			pem, err := os.ReadFile(f.caFile)
			if err != nil {
				return nil, err
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no PEM certificates", f.caFile)
			}
		}
		if f.certFile != "" || f.keyFile != "" {
			cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
			if err != nil {
				return nil, err
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if f.mechanism == "" {
		return opts, nil
	}
	pass := os.Getenv(f.passwordEnv)
	if f.user == "" || pass == "" {
		return nil, fmt.Errorf("--sasl-mechanism needs --sasl-user and the password in $%s", f.passwordEnv)
	}
	switch strings.ToUpper(f.mechanism) {
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: f.user, Pass: pass}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: f.user, Pass: pass}.AsSha512Mechanism()))
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: f.user, Pass: pass}.AsMechanism()))
	default:
		return nil, errors.New("--sasl-mechanism must be SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN")
	}
	return opts, nil
}

// parseInterspersed parses flags that may come before or after positional arguments
// (`bulwark users set alice --bootstrap-server h:p`) and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
