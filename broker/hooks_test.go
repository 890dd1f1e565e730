package broker

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// eventLog records every kind of hook event.
type eventLog struct {
	mu      sync.Mutex
	reqs    []hook.Request
	conns   []hook.Connection
	auths   []hook.Authentication
	keys    []hook.KeyCall
	configs []hook.ConfigChange
}

func (l *eventLog) OnRequest(ev hook.Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, ev)
	l.mu.Unlock()
}
func (l *eventLog) OnConnection(ev hook.Connection) {
	l.mu.Lock()
	l.conns = append(l.conns, ev)
	l.mu.Unlock()
}
func (l *eventLog) OnAuthentication(ev hook.Authentication) {
	l.mu.Lock()
	l.auths = append(l.auths, ev)
	l.mu.Unlock()
}
func (l *eventLog) OnKeyCall(ev hook.KeyCall) {
	l.mu.Lock()
	l.keys = append(l.keys, ev)
	l.mu.Unlock()
}
func (l *eventLog) OnConfigChange(ev hook.ConfigChange) {
	l.mu.Lock()
	l.configs = append(l.configs, ev)
	l.mu.Unlock()
}

// resetConns forgets the connection events seen so far.
func (l *eventLog) resetConns() { l.mu.Lock(); l.conns = nil; l.mu.Unlock() }

func (l *eventLog) registration() hook.Registration {
	return hook.Registration{Name: "test-events", Overflow: hook.OverflowBlock,
		Request: l, Connection: l, Authentication: l, Key: l, Config: l}
}

// waitFor polls until cond (called under the lock) holds.
func (l *eventLog) waitFor(t *testing.T, what string, cond func(*eventLog) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		ok := cond(l)
		l.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no event: %s", what)
}

func (l *eventLog) request(t *testing.T, what string, match func(hook.Request) bool) hook.Request {
	t.Helper()
	var found hook.Request
	l.waitFor(t, what, func(l *eventLog) bool {
		for _, r := range l.reqs {
			if match(r) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// panicky is a hook whose every call panics.
type panicky struct{}

func (panicky) OnRequest(hook.Request) { panic("broken hook") }

// TestHooksSeeEveryEventKind drives a broker with real clients and checks that every hook kind
// fires with the fields the contract promises, while a panicking hook on the side changes
// nothing for clients.
func TestHooksSeeEveryEventKind(t *testing.T) {
	events := &eventLog{}
	b := newTestBroker(t, withOptions(WithHook(events.registration()),
		WithHook(hook.Registration{Name: "panicky", Request: panicky{}})),
		withConfig(func(c *config.Config) { c.AutoCreateTopics = false }))
	ctx := testContext(t)
	adm := b.Admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "hooked"); err != nil {
		t.Fatal(err)
	}
	cl := b.Client(t, kgo.ClientID("hook-test"), kgo.DefaultProduceTopic("hooked"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	produce := events.request(t, "produce", func(r hook.Request) bool { return r.APIKey == 0 && r.ClientID == "hook-test" })
	if produce.Principal.String() != "User:ANONYMOUS" || produce.Listener != "PLAINTEXT" || produce.RequestID == "" ||
		!strings.HasPrefix(produce.ClientAddr, "127.0.0.1:") || produce.RequestBytes <= 0 || produce.ResponseBytes <= 0 ||
		produce.Stages.Total() <= 0 || len(produce.ErrorCodes) != 0 {
		t.Fatalf("produce event = %+v", produce)
	}
	if !slices.Contains(produce.Resources, hook.Resource{Type: "TOPIC", Name: "hooked"}) {
		t.Fatalf("produce resources = %v", produce.Resources)
	}

	// A request answered with errors: Metadata for a topic that does not exist.
	rc := dialRaw(t, b.Addr)
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	missing := kmsg.NewMetadataRequestTopic()
	missing.Topic = kmsg.StringPtr("no-such-topic")
	md.Topics = append(md.Topics, missing)
	rc.roundTrip(md)
	mdEv := events.request(t, "metadata", func(r hook.Request) bool { return r.APIKey == 3 && r.ClientID == "raw-test" })
	if !slices.Contains(mdEv.ErrorCodes, hook.ErrorCount{Code: kerr.UnknownTopicOrPartition.Code, Count: 1}) {
		t.Fatalf("metadata error codes = %v", mdEv.ErrorCodes)
	}

	// A refused request: a frame that does not decode closes the connection with an event.
	bad := dialRaw(t, b.Addr)
	bad.writeBytes([]byte{0, 0, 0, 12, 0, 3, 0, 12, 0, 0, 0, 9, 0xff, 0xff, 0x05, 0x01})
	bad.expectClosed()
	refused := events.request(t, "refused request", func(r hook.Request) bool { return r.Refusal != "" && r.CorrelationID == 9 })
	if refused.RequestID == "" || refused.APIKey != 3 || !strings.Contains(refused.Refusal, "truncated") {
		t.Fatalf("refused event = %+v", refused)
	}

	// A configuration change through the admin API.
	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	rcfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rcfg.Name, rcfg.Value = "max.connections.per.ip", kmsg.StringPtr("500")
	res.Configs = append(res.Configs, rcfg)
	alter.Resources = append(alter.Resources, res)
	if resp := rc.roundTrip(alter).(*kmsg.IncrementalAlterConfigsResponse); resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter = %+v", resp.Resources[0])
	}
	events.waitFor(t, "config change", func(l *eventLog) bool {
		for _, c := range l.configs {
			if c.Source == "IncrementalAlterConfigs" && slices.Equal(c.Changed, []string{"max.connections.per.ip"}) &&
				c.Principal.String() == "User:ANONYMOUS" && c.RequestID != "" {
				return true
			}
		}
		return false
	})

	// Key-service calls: encryption at rest is on by default, so the topic's segment got a key.
	events.waitFor(t, "key call", func(l *eventLog) bool {
		return slices.ContainsFunc(l.keys, func(k hook.KeyCall) bool { return k.Op == "GenerateDataKey" && k.Err == "" })
	})

	// Connections: opened, and closed once a client goes away.
	rc.nc.Close()
	events.waitFor(t, "connection opened and closed", func(l *eventLog) bool {
		var opened, closed bool
		for _, c := range l.conns {
			opened = opened || c.Kind == hook.ConnectionOpened
			closed = closed || (c.Kind == hook.ConnectionClosed && c.Principal.String() == "User:ANONYMOUS")
		}
		return opened && closed
	})

	// The panicking hook never reached a client, and its panics are counted.
	var st hook.Stats
	for _, s := range b.HookStats() {
		if s.Name == "panicky" {
			st = s
		}
	}
	if st.Panics == 0 {
		t.Fatalf("panicky hook stats = %+v, want counted panics", st)
	}
}

// TestAuthenticationEventsCarryTypedPrincipal checks the authentication hook kind.
func TestAuthenticationEventsCarryTypedPrincipal(t *testing.T) {
	rec := &authRecorder{}
	b := saslBroker(t, rec, testMechanism{})
	rc := dialRaw(t, b.Addr)
	handshake(t, rc, 1, "TEST")
	authenticate(t, rc, 2, "alice:pw")
	ev := rec.waitFor(t, func(ev hook.Authentication) bool { return ev.Outcome == hook.AuthSuccess })
	if ev.Principal.Type != "User" || ev.Principal.Name != "alice" || ev.Claimed != "" {
		t.Fatalf("auth event = %+v", ev)
	}
}
