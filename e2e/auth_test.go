package e2e

import (
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-kafka/bulwark/internal/testpki"
)

// securedBroker starts a broker with a PLAINTEXT listener (for set-up) plus the given secured
// listeners, a server certificate from a fresh test CA, and extra keys.
func securedBroker(t *testing.T, listeners string, extra map[string]string) (*brokerProc, *testpki.PKI) {
	t.Helper()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.Server("server")
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{
		"listeners":             "PLAINTEXT://127.0.0.1:0," + listeners,
		"ssl.keystore.type":     "PEM",
		"ssl.keystore.location": server.BundleFile,
	}
	for k, v := range extra {
		props[k] = v
	}
	return startBroker(t, props), pki
}

// setUser creates a SCRAM user through `bulwark users set` (AlterUserScramCredentials) on the
// PLAINTEXT listener.
func setUser(t *testing.T, b *brokerProc, user, password string) {
	t.Helper()
	res := runProgram(t, 30*time.Second, password+"\n", bulwarkBin, "users", "set", user, "--bootstrap-server", b.Addr())
	if res.err != nil || res.code != 0 {
		t.Fatalf("bulwark users set %s: %v (exit %d)\n%s", user, res.err, res.code, res.stderr)
	}
}

// kcatRoundTrip produces n keyed messages with kcat through addr with the given -X settings and
// reads them back the same way.
func kcatRoundTrip(t *testing.T, kcat string, b *brokerProc, addr, topic string, n int, settings ...string) {
	t.Helper()
	createTopic(t, b.Addr(), topic, 1, nil)
	var x []string
	for _, s := range settings {
		x = append(x, "-X", s)
	}
	var in strings.Builder
	want := make([]string, n)
	for i := range n {
		fmt.Fprintf(&in, "k%03d:secured value %d\n", i, i)
		want[i] = fmt.Sprintf("%d k%03d secured value %d", i, i, i)
	}
	prod := runProgram(t, 60*time.Second, in.String(), kcat,
		append([]string{"-P", "-b", addr, "-t", topic, "-p", "0", "-K", ":", "-X", "acks=all"}, x...)...)
	if prod.err != nil || prod.code != 0 || strings.Contains(prod.stderr, "ERROR") {
		t.Fatalf("kcat -P %v: %v (exit %d)\nstderr:\n%s", settings, prod.err, prod.code, clip(prod.stderr))
	}
	expectKcatConsumes(t, kcat, addr, topic, want, x...)
}

// kcatFails runs a kcat metadata query that must fail, and returns its stderr.
func kcatFails(t *testing.T, kcat, addr string, settings ...string) string {
	t.Helper()
	args := []string{"-L", "-b", addr, "-m", "5"}
	for _, s := range settings {
		args = append(args, "-X", s)
	}
	res := runProgram(t, 30*time.Second, "", kcat, args...)
	if res.code == 0 {
		t.Fatalf("kcat -L %v succeeded, want a failure\nstdout:\n%s", settings, clip(res.stdout))
	}
	return res.stderr
}

// waitLog waits for the broker's output to contain every one of parts on one line.
func waitLog(t *testing.T, b *brokerProc, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.Split(b.out.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker log has no line with %q", parts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSCRAMClients: users created through the admin API log in on the very next connection with
// kcat, confluent-kafka-python and kafka-python (SaslHandshake v0), over SASL_PLAINTEXT and
// SASL_SSL, with SCRAM-SHA-256 and SCRAM-SHA-512; a wrong password and an unknown user are refused
// and recorded.
func TestSCRAMClients(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b, pki := securedBroker(t, "SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0", map[string]string{
		"sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
	})
	setUser(t, b, "alice", "alice-secret")
	plain, tlsAddr := b.ListenerAddr(t, "SASL_PLAINTEXT"), b.ListenerAddr(t, "SASL_SSL")
	scram := func(mech, user, pass string) []string {
		return []string{"sasl.mechanisms=" + mech, "sasl.username=" + user, "sasl.password=" + pass}
	}

	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run("kcat/"+mech+"/SASL_PLAINTEXT", func(t *testing.T) {
			kcatRoundTrip(t, kcat, b, plain, "kcat-plain-"+mech, 40,
				append(scram(mech, "alice", "alice-secret"), "security.protocol=SASL_PLAINTEXT")...)
		})
		t.Run("kcat/"+mech+"/SASL_SSL", func(t *testing.T) {
			kcatRoundTrip(t, kcat, b, tlsAddr, "kcat-ssl-"+mech, 40,
				append(scram(mech, "alice", "alice-secret"), "security.protocol=SASL_SSL", "ssl.ca.location="+pki.CAFile)...)
		})
	}
	t.Run("confluent/SCRAM-SHA-512/SASL_SSL", func(t *testing.T) {
		py := requirePythonModule(t, "confluent_kafka", "python3-confluent-kafka")
		runSecuredRoundTrip(t, py, "confluent_kafka_roundtrip.py", b.Addr(), tlsAddr, map[string]any{
			"security.protocol": "SASL_SSL", "ssl.ca.location": pki.CAFile,
			"sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "alice", "sasl.password": "alice-secret",
		}, "scram-confluent", 2, 60, "none")
	})
	t.Run("confluent/SCRAM-SHA-256/SASL_PLAINTEXT", func(t *testing.T) {
		py := requirePythonModule(t, "confluent_kafka", "python3-confluent-kafka")
		runSecuredRoundTrip(t, py, "confluent_kafka_roundtrip.py", b.Addr(), plain, map[string]any{
			"security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanisms":   "SCRAM-SHA-256", "sasl.username": "alice", "sasl.password": "alice-secret",
		}, "scram-confluent-plain", 1, 30, "none")
	})
	t.Run("kafka-python/SCRAM-SHA-256/SASL_PLAINTEXT", func(t *testing.T) {
		py := requirePythonModule(t, "kafka", "python3-kafka")
		runSecuredRoundTrip(t, py, "kafka_python_roundtrip.py", b.Addr(), plain, map[string]any{
			"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
			"sasl_plain_username": "alice", "sasl_plain_password": "alice-secret",
		}, "scram-kafka-python", 2, 40, "none")
	})
	t.Run("kafka-python/SCRAM-SHA-512/SASL_SSL", func(t *testing.T) {
		py := requirePythonModule(t, "kafka", "python3-kafka")
		runSecuredRoundTrip(t, py, "kafka_python_roundtrip.py", b.Addr(), tlsAddr, map[string]any{
			"security_protocol": "SASL_SSL", "ssl_cafile": pki.CAFile, "ssl_check_hostname": false,
			"sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "alice", "sasl_plain_password": "alice-secret",
		}, "scram-kafka-python-ssl", 1, 20, "none")
	})
	t.Run("refusals", func(t *testing.T) {
		kcatFails(t, kcat, plain, append(scram("SCRAM-SHA-256", "alice", "wrong"), "security.protocol=SASL_PLAINTEXT")...)
		waitLog(t, b, "authentication failure", "mechanism=SCRAM-SHA-256", "principal=alice")
		kcatFails(t, kcat, plain, append(scram("SCRAM-SHA-512", "nobody", "x"), "security.protocol=SASL_PLAINTEXT")...)
		waitLog(t, b, "authentication failure", "mechanism=SCRAM-SHA-512", "principal=nobody")
		// A plaintext client on the TLS listener never gets past the handshake.
		kcatFails(t, kcat, tlsAddr, append(scram("SCRAM-SHA-512", "alice", "alice-secret"), "security.protocol=SASL_PLAINTEXT")...)
		waitLog(t, b, "authentication failure", "mechanism=TLS", "TLS handshake failed")
	})
}

// TestMutualTLS: kcat authenticates with a client certificate; the principal is the subject
// shaped by ssl.principal.mapping.rules; a client without a certificate is refused.
func TestMutualTLS(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	pkiDir := t.TempDir()
	pki, err := testpki.New(pkiDir)
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.Server("server")
	if err != nil {
		t.Fatal(err)
	}
	client, err := pki.Client("alice", pkix.Name{CommonName: "Alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, map[string]string{
		"listeners":                   "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"ssl.keystore.type":           "PEM",
		"ssl.keystore.location":       server.BundleFile,
		"ssl.truststore.type":         "PEM",
		"ssl.truststore.location":     pki.CAFile,
		"ssl.client.auth":             "required",
		"ssl.principal.mapping.rules": "RULE:^CN=([^,]+),OU=eng,.*$/$1/L,DEFAULT",
	})
	addr := b.ListenerAddr(t, "SSL")
	kcatRoundTrip(t, kcat, b, addr, "mtls", 25, "security.protocol=SSL", "ssl.ca.location="+pki.CAFile,
		"ssl.certificate.location="+client.CertFile, "ssl.key.location="+client.KeyFile)
	waitLog(t, b, "msg=authenticated", "mechanism=TLS", "principal=User:alice")

	kcatFails(t, kcat, addr, "security.protocol=SSL", "ssl.ca.location="+pki.CAFile)
	waitLog(t, b, "authentication failure", "mechanism=TLS", "certificate")
}

// TestUsersCommand: bulwark users set, list and delete against a running broker.
func TestUsersCommand(t *testing.T) {
	b := startBroker(t, nil)
	setUser(t, b, "carol", "pw-1")
	list := runProgram(t, 30*time.Second, "", bulwarkBin, "users", "list", "--bootstrap-server", b.Addr())
	if list.code != 0 || !strings.Contains(list.stdout, "carol\tSCRAM-SHA-256(8192),SCRAM-SHA-512(8192)") {
		t.Fatalf("users list: exit %d\n%s%s", list.code, list.stdout, list.stderr)
	}
	del := runProgram(t, 30*time.Second, "", bulwarkBin, "users", "delete", "carol", "--bootstrap-server", b.Addr())
	if del.code != 0 {
		t.Fatalf("users delete: exit %d\n%s", del.code, del.stderr)
	}
	list = runProgram(t, 30*time.Second, "", bulwarkBin, "users", "list", "--bootstrap-server", b.Addr())
	if list.code != 0 || strings.Contains(list.stdout, "carol") {
		t.Fatalf("after delete: %s", list.stdout)
	}
}

// TestIAMCommand: bulwark iam works only on a stopped broker's directory.
func TestIAMCommand(t *testing.T) {
	b := startBroker(t, nil)
	busy := runProgram(t, 30*time.Second, "", bulwarkBin, "iam", "list", "--config", b.props)
	if busy.code == 0 || !strings.Contains(busy.stderr, "in use by another process") {
		t.Fatalf("iam list on a running broker: exit %d\n%s", busy.code, busy.stderr)
	}
	b.stop(t)
	create := runProgram(t, 30*time.Second, "", bulwarkBin, "iam", "create-key", "--config", b.props,
		"--principal-arn", "arn:aws:iam::123456789012:user/app", "--expires-in", "24h")
	if create.code != 0 || !strings.Contains(create.stdout, "secret_access_key=") {
		t.Fatalf("create-key: exit %d\n%s%s", create.code, create.stdout, create.stderr)
	}
	id := strings.TrimPrefix(strings.SplitN(create.stdout, "\n", 2)[0], "access_key_id=")
	list := runProgram(t, 30*time.Second, "", bulwarkBin, "iam", "list", "--config", b.props)
	if list.code != 0 || !strings.Contains(list.stdout, id+"\tarn:aws:iam::123456789012:user/app") || strings.Contains(list.stdout, "secret") {
		t.Fatalf("iam list: exit %d\n%s", list.code, list.stdout)
	}
	if del := runProgram(t, 30*time.Second, "", bulwarkBin, "iam", "delete-key", "--config", b.props, id); del.code != 0 {
		t.Fatalf("delete-key: %s", del.stderr)
	}
	b.start(t)
}
