package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// throttles counts the throttles a franz-go client was told about (throttle_time_ms > 0).
type throttles struct{ n atomic.Int64 }

func (s *throttles) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		s.n.Add(1)
	}
}

// produceFor produces random 16 KiB records synchronously for d and returns the bytes produced
// in all and the rate over the second half (after the quota's initial allowance is spent).
func produceFor(t *testing.T, cl *kgo.Client, d time.Duration) (total, steadyRate float64) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	value := make([]byte, 16<<10)
	start := time.Now()
	half := start.Add(d / 2)
	var steady float64
	for time.Since(start) < d {
		_, _ = rand.Read(value) // incompressible: the quota counts bytes on the wire
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Errorf("produce: %v", err)
			return
		}
		total += float64(len(value))
		if time.Now().After(half) {
			steady += float64(len(value))
		}
	}
	return total, steady / time.Since(half).Seconds()
}

// kcatProduceTime is how long kcat takes to produce n random 1 KiB lines as user.
func kcatProduceTime(t *testing.T, kcat, addr, topic, user string, n int) time.Duration {
	t.Helper()
	var in strings.Builder
	line := make([]byte, 768)
	for range n {
		_, _ = rand.Read(line)
		in.WriteString(base64.StdEncoding.EncodeToString(line))
		in.WriteByte('\n')
	}
	start := time.Now()
	res := runProgram(t, 90*time.Second, in.String(), kcat, "-P", "-b", addr, "-t", topic,
		"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256",
		"-X", "sasl.username="+user, "-X", "sasl.password="+user+"-secret", "-X", "compression.codec=none")
	if res.err != nil || res.code != 0 {
		t.Fatalf("kcat -P as %s: %v (exit %d)\n%s", user, res.err, res.code, clip(res.stderr))
	}
	return time.Since(start)
}

// TestUserQuotas: a 1 MiB/s producer quota set with `bulwark quotas` holds alice's franz-go
// producer to about that rate, with throttle_time_ms set, while bob, producing at the same
// time, is not throttled; kcat sees the same; the quota survives a restart and kadm's
// DescribeClientQuotas shows it.
func TestUserQuotas(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b, _ := securedBroker(t, "SASL_PLAINTEXT://127.0.0.1:0", map[string]string{
		"sasl.enabled.mechanisms": "SCRAM-SHA-256",
		// Five 1 s samples (Kafka: 11) so the rate settles within a short test.
		"quota.window.num": "5",
	})
	setUser(t, b, "alice", "alice-secret")
	setUser(t, b, "bob", "bob-secret")
	const limit = 1 << 20
	res := runProgram(t, 30*time.Second, "", bulwarkBin, "quotas", "alter", "--user", "alice",
		"--set", "producer_byte_rate=1048576", "--bootstrap-server", b.Addr())
	if res.err != nil || res.code != 0 {
		t.Fatalf("bulwark quotas alter: %v (exit %d)\n%s", res.err, res.code, res.stderr)
	}
	createTopic(t, b.Addr(), "quota-e2e", 4, nil)
	saslAddr := b.ListenerAddr(t, "SASL_PLAINTEXT")

	client := func(user string, seen *throttles) *kgo.Client {
		return newClient(t, saslAddr, kgo.SASL(scram.Auth{User: user, Pass: user + "-secret"}.AsSha256Mechanism()),
			kgo.DefaultProduceTopic("quota-e2e"), kgo.WithHooks(seen), kgo.ProducerLinger(0))
	}
	var aliceSeen, bobSeen throttles
	alice, bob := client("alice", &aliceSeen), client("bob", &bobSeen)
	const run = 12 * time.Second
	var wg sync.WaitGroup
	var aliceRate, bobTotal float64
	wg.Add(2)
	go func() { defer wg.Done(); _, aliceRate = produceFor(t, alice, run) }()
	go func() { defer wg.Done(); bobTotal, _ = produceFor(t, bob, run) }()
	wg.Wait()
	t.Logf("franz-go: alice %.2f MiB/s over the second half (%d throttles); bob %.1f MiB in %v (%d throttles)",
		aliceRate/limit, aliceSeen.n.Load(), bobTotal/(1<<20), run, bobSeen.n.Load())
	if aliceSeen.n.Load() == 0 || aliceRate < 0.5*limit || aliceRate > 1.6*limit {
		t.Fatalf("alice: %.2f MiB/s with %d throttles, want about 1 MiB/s and throttle_time_ms set",
			aliceRate/limit, aliceSeen.n.Load())
	}
	if bobSeen.n.Load() != 0 || bobTotal < 3*limit*run.Seconds() {
		t.Fatalf("bob: %.1f MiB with %d throttles; another user's quota must not slow him",
			bobTotal/(1<<20), bobSeen.n.Load())
	}

	// kcat (librdkafka): alice's quota is already spent, so 3 MiB takes her seconds; bob is not held.
	aliceTime := kcatProduceTime(t, kcat, saslAddr, "quota-e2e", "alice", 3000)
	bobTime := kcatProduceTime(t, kcat, saslAddr, "quota-e2e", "bob", 3000)
	t.Logf("kcat, 3000 × 1 KiB: alice %v, bob %v", aliceTime, bobTime)
	if aliceTime < 1500*time.Millisecond || bobTime >= aliceTime/2 {
		t.Fatalf("kcat: alice took %v, bob %v; want alice held to her quota and bob not", aliceTime, bobTime)
	}

	// The quota is in the metadata log: it survives a restart.
	b.stop(t)
	b.restart(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	quotas, err := kadm.NewClient(newClient(t, b.Addr())).DescribeClientQuotas(ctx, false, nil)
	if err != nil || len(quotas) != 1 || quotas[0].Values[0].Key != "producer_byte_rate" || quotas[0].Values[0].Value != limit ||
		*quotas[0].Entity[0].Name != "alice" {
		t.Fatalf("after restart: %v %+v", err, quotas)
	}
	res = runProgram(t, 30*time.Second, "", bulwarkBin, "quotas", "describe", "--bootstrap-server", b.Addr())
	if res.code != 0 || !strings.Contains(res.stdout, "user=alice\tproducer_byte_rate=1048576") {
		t.Fatalf("bulwark quotas describe: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// dialFrom opens a TCP connection to addr from a chosen loopback source address.
func dialFrom(source, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	return d.Dial("tcp", addr)
}

// refusedFrom reports whether the broker closes a connection from source without answering an
// ApiVersions request.
func refusedFrom(t *testing.T, source, addr string) bool {
	t.Helper()
	nc, err := dialFrom(source, addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", source, err)
	}
	defer nc.Close()
	// ApiVersions v0, correlation id 1, no client id.
	_, _ = nc.Write([]byte{0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff})
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [4]byte
	_, err = nc.Read(buf[:])
	return err != nil
}

// TestAllowlistReloadedOnSIGHUP: a listener allowing only 127.0.0.2/32 refuses 127.0.0.1 and
// accepts 127.0.0.2; after the file is changed and the broker gets SIGHUP, the new list decides
// the next connection.
func TestAllowlistReloadedOnSIGHUP(t *testing.T) {
	b := startBroker(t, map[string]string{"bulwark.allowed.cidrs": "127.0.0.2/32"})
	if !refusedFrom(t, "127.0.0.1", b.Addr()) {
		t.Fatal("127.0.0.1 was answered; the listener allows only 127.0.0.2/32")
	}
	if refusedFrom(t, "127.0.0.2", b.Addr()) {
		t.Fatal("127.0.0.2 was refused")
	}
	waitLog(t, b, "connection refused", "not in the listener's allowlist", "request_id=")

	props, err := os.ReadFile(b.props)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(props), "bulwark.allowed.cidrs=127.0.0.2/32", "bulwark.allowed.cidrs=127.0.0.1/32", 1)
	if err := os.WriteFile(b.props, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	proc := b.cmd.Process
	b.mu.Unlock()
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, b, "configuration reloaded", "bulwark.allowed.cidrs")
	if refusedFrom(t, "127.0.0.1", b.Addr()) {
		t.Fatal("127.0.0.1 refused after the reload allowed it")
	}
	if !refusedFrom(t, "127.0.0.2", b.Addr()) {
		t.Fatal("127.0.0.2 answered after the reload removed it")
	}
	// A real client from the allowed address works end to end.
	createTopic(t, b.Addr(), "after-reload", 1, nil)
}
