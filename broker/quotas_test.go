package broker

import (
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/hook"
)

// throttleSeen counts the throttles a franz-go client was told about.
type throttleSeen struct{ n atomic.Int64 }

func (s *throttleSeen) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		s.n.Add(1)
	}
}

func quotaEntity(parts ...string) kadm.ClientQuotaEntity {
	var e kadm.ClientQuotaEntity
	for i := 0; i+1 < len(parts); i += 2 {
		name := parts[i+1]
		var np *string
		if name != "<default>" {
			np = &name
		}
		e = append(e, kadm.ClientQuotaEntityComponent{Type: parts[i], Name: np})
	}
	return e
}

func alterQuota(t *testing.T, adm *kadm.Client, key string, value float64, entity ...string) {
	t.Helper()
	res, err := adm.AlterClientQuotas(testContext(t), []kadm.AlterClientQuotaEntry{{Entity: quotaEntity(entity...),
		Ops: []kadm.AlterClientQuotaOp{{Key: key, Value: value}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter quota %v %s=%v: %v %v", entity, key, value, err, res)
	}
}

// TestClientQuotaAdmin: AlterClientQuotas stores quotas (and refuses bad entries one by one with
// INVALID_REQUEST), DescribeClientQuotas matches Kafka's filters, and quotas survive a restart.
func TestClientQuotaAdmin(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	adm := b.Admin(t)
	ctx := testContext(t)
	five := "5"
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: quotaEntity("user", "alice"), Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1048576}, {Key: "request_percentage", Value: 25.5}}},
		{Entity: quotaEntity("user", "<default>", "client-id", "etl"), Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 2048}}},
		{Entity: quotaEntity("ip", "10.0.0.1"), Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 5}}},
		// Refused, each on its own:
		{Entity: quotaEntity("user", "bob"), Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1.5}}},
		{Entity: quotaEntity("user", "bob"), Ops: []kadm.AlterClientQuotaOp{{Key: "no_such_rate", Value: 1}}},
		{Entity: quotaEntity("ip", "not-an-ip"), Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
		{Entity: quotaEntity("ip", five, "user", "x"), Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
		{Entity: quotaEntity("user", "carol"), Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
		{Entity: quotaEntity("user", "dave"), Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: -1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		wantErr := i >= 3
		if gotErr := r.Err != nil; gotErr != wantErr || (gotErr && !errors.Is(r.Err, kerr.InvalidRequest)) {
			t.Errorf("entry %d (%v): err %v, want error=%v (INVALID_REQUEST)", i, r.Entity, r.Err, wantErr)
		}
	}

	check := func(b *testBroker) {
		t.Helper()
		adm := b.Admin(t)
		all, err := adm.DescribeClientQuotas(ctx, false, nil)
		if err != nil || len(all) != 3 {
			t.Fatalf("describe all: %v %+v", err, all)
		}
		alice, err := adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: kmsg.StringPtr("alice"), MatchType: 0}})
		if err != nil || len(alice) != 1 || alice[0].Values[0].Key != "producer_byte_rate" || alice[0].Values[0].Value != 1048576 ||
			alice[0].Values[1].Value != 25.5 {
			t.Fatalf("describe alice: %v %+v", err, alice)
		}
		users, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 2}})
		if err != nil || len(users) != 2 {
			t.Fatalf("describe any user: %v %+v", err, users)
		}
		strictUsers, err := adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 2}})
		if err != nil || len(strictUsers) != 1 {
			t.Fatalf("describe strict any user: %v %+v", err, strictUsers)
		}
		if _, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "ip", MatchType: 2}, {Type: "user", MatchType: 2}}); !errors.Is(err, kerr.InvalidRequest) {
			t.Fatalf("ip with user filter: %v, want INVALID_REQUEST", err)
		}
		if _, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "group", MatchType: 2}}); !errors.Is(err, kerr.UnsupportedVersion) {
			t.Fatalf("custom entity type filter: %v, want UNSUPPORTED_VERSION", err)
		}
	}
	check(b)
	b.stop(t)
	check(startTestBroker(t, dir))
}

// TestProduceQuotaThrottlesOneClientOnly: a client id with a 1 MiB/s producer quota is held to
// about that rate and told so in throttle_time_ms, while a client without a quota producing at the
// same time is not throttled at all.
func TestProduceQuotaThrottlesOneClientOnly(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.QuotaWindowNum = 3 }))
	adm := b.Admin(t)
	ctx := testContext(t)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "quota"); err != nil {
		t.Fatal(err)
	}
	const limit = 1 << 20
	alterQuota(t, adm, "producer_byte_rate", limit, "client-id", "slow")

	run := func(clientID string, seen *throttleSeen, d time.Duration) (bytes float64, steady float64) {
		cl := b.Client(t, kgo.ClientID(clientID), kgo.DefaultProduceTopic("quota"), kgo.WithHooks(seen),
			kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(256<<10))
		// Random bytes: the client compresses, and zeros would cost the quota nothing.
		value := make([]byte, 32<<10)
		_, _ = rand.Read(value)
		start := time.Now()
		var steadyBytes float64
		steadyFrom := start.Add(d / 2)
		for time.Since(start) < d {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				t.Errorf("%s: %v", clientID, err)
				return
			}
			bytes += float64(len(value))
			if time.Now().After(steadyFrom) {
				steadyBytes += float64(len(value))
			}
		}
		return bytes, steadyBytes / (time.Since(steadyFrom).Seconds())
	}
	var wg sync.WaitGroup
	var slowSeen, fastSeen throttleSeen
	var slowRate, fastTotal float64
	wg.Add(2)
	go func() { defer wg.Done(); _, slowRate = run("slow", &slowSeen, 8*time.Second) }()
	go func() { defer wg.Done(); fastTotal, _ = run("fast", &fastSeen, 8*time.Second) }()
	wg.Wait()
	t.Logf("slow: %.2f MiB/s in the second half, %d throttles; fast: %.1f MiB in 8 s, %d throttles",
		slowRate/limit, slowSeen.n.Load(), fastTotal/(1<<20), fastSeen.n.Load())
	if slowSeen.n.Load() == 0 {
		t.Fatal("the quota'd client never saw throttle_time_ms")
	}
	if slowRate < 0.5*limit || slowRate > 1.6*limit {
		t.Fatalf("the quota'd client produced %.2f MiB/s, want about 1", slowRate/limit)
	}
	if fastSeen.n.Load() != 0 {
		t.Fatalf("the client without a quota was throttled %d times", fastSeen.n.Load())
	}
	if fastTotal < 3*8*limit {
		t.Fatalf("the client without a quota produced only %.1f MiB in 8 s", fastTotal/(1<<20))
	}
}

// TestThrottledConnectionIsMuted: a raw client that ignores throttle_time_ms still cannot go
// faster: its connection is not read until the throttle has passed (KIP-219).
func TestThrottledConnectionIsMuted(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.QuotaWindowNum = 2 }))
	adm := b.Admin(t)
	alterQuota(t, adm, "request_percentage", 0.0001, "client-id", "raw-test")
	rc := dialRaw(t, b.Addr)
	var throttle time.Duration
	for i := 0; i < 500 && throttle == 0; i++ {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(12)
		resp := rc.roundTrip(req).(*kmsg.MetadataResponse)
		throttle = time.Duration(resp.ThrottleMillis) * time.Millisecond
	}
	if throttle < 100*time.Millisecond {
		t.Fatalf("throttle %v after many requests at 0.0001%% of a thread", throttle)
	}
	start := time.Now()
	req := kmsg.NewPtrApiVersionsRequest()
	rc.roundTrip(req) // exempt from the quota, but the connection is muted
	if waited := time.Since(start); waited < throttle*8/10 {
		t.Fatalf("next request answered after %v; the connection should be muted for %v", waited, throttle)
	}
}

// TestControllerMutationQuota: CreateTopics v7 over controller_mutation_rate is refused with
// THROTTLING_QUOTA_EXCEEDED and a throttle time (KIP-599 strict mode); v5 is accepted and
// throttled afterwards.
func TestControllerMutationQuota(t *testing.T) {
	b := newTestBroker(t)
	alterQuota(t, b.Admin(t), "controller_mutation_rate", 1, "client-id", "raw-test")
	// Each request on a connection of its own: a throttled connection is muted (KIP-219).
	create := func(version int16, name string, partitions int32) *kmsg.CreateTopicsResponse {
		rc := dialRaw(t, b.Addr)
		req := kmsg.NewPtrCreateTopicsRequest()
		req.SetVersion(version)
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 5000
		return rc.roundTrip(req).(*kmsg.CreateTopicsResponse)
	}
	if r := create(7, "m1", 30); r.Topics[0].ErrorCode != 0 || r.ThrottleMillis <= 0 {
		t.Fatalf("first create: %+v (want created, with a throttle for 30 partitions at 1/s)", r)
	}
	r := create(7, "m2", 1)
	if r.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code || r.ThrottleMillis <= 0 {
		t.Fatalf("second create (strict): %+v", r.Topics[0])
	}
	if b.cluster.lookupTopic("m2") != nil {
		t.Fatal("a refused topic was created")
	}
	// Permissive before v6: created, and throttled afterwards.
	if r := create(5, "m3", 1); r.Topics[0].ErrorCode != 0 || r.ThrottleMillis <= 0 {
		t.Fatalf("v5 create: %+v", r)
	}
}

// TestConnectionCreationRateQuota: an IP over connection_creation_rate has new connections
// closed, with a refusal event; other connections are unaffected.
func TestConnectionCreationRateQuota(t *testing.T) {
	events := &eventLog{}
	b := newTestBroker(t, withOptions(WithHook(events.registration())),
		withConfig(func(c *config.Config) { c.QuotaWindowNum = 2 }))
	// Given in IPv4-mapped form: stored, and matched, as 127.0.0.5.
	alterQuota(t, b.Admin(t), "connection_creation_rate", 1, "ip", "::ffff:127.0.0.5")
	refused := 0
	for i := 0; i < 4; i++ {
		rc := dialRawFrom(t, b.Addr, "127.0.0.5")
		req := kmsg.NewPtrApiVersionsRequest()
		rc.send(req)
		_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		var one [1]byte
		if _, err := rc.nc.Read(one[:]); err != nil {
			refused++
		}
	}
	// 1/s over the 1 s minimum window admits one, maybe two, of four quick connections.
	if refused < 2 {
		t.Fatalf("%d of 4 connections refused at 1/s", refused)
	}
	events.waitFor(t, "quota refusal", func(l *eventLog) bool {
		for _, c := range l.conns {
			if c.Kind == hook.ConnectionRefused && c.RequestID != "" && len(c.Reason) > 0 {
				return true
			}
		}
		return false
	})
	metadataOK(t, dialRawFrom(t, b.Addr, "127.0.0.6"))
}

// TestFetchQuotaThrottlesConsumer: a consumer over consumer_byte_rate is throttled (throttled
// fetches come back empty and uncounted, as in Kafka) yet receives every record, at about its
// quota, even with fetch sizes far above what the quota allows (they are capped to it).
func TestFetchQuotaThrottlesConsumer(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.QuotaWindowNum = 3 }))
	adm := b.Admin(t)
	ctx := testContext(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "fq"); err != nil {
		t.Fatal(err)
	}
	const records, size = 96, 32 << 10 // 3 MiB
	producer := b.Client(t, kgo.DefaultProduceTopic("fq"))
	for i := 0; i < records; i++ {
		v := make([]byte, size)
		_, _ = rand.Read(v)
		producer.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := producer.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	const limit = 512 << 10
	alterQuota(t, adm, "consumer_byte_rate", limit, "client-id", "reader")
	var seen throttleSeen
	consumer := b.Client(t, kgo.ClientID("reader"), kgo.ConsumeTopics("fq"), kgo.WithHooks(&seen),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())) // franz-go's default 50 MiB fetches: capped by the quota
	start := time.Now()
	got := 0
	for got < records {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, records, err)
		}
		got += fs.NumRecords()
	}
	elapsed := time.Since(start)
	rate := float64(records*size) / elapsed.Seconds()
	t.Logf("consumed %d records in %v: %.2f MiB/s against a %.2f MiB/s quota, %d throttles",
		got, elapsed, rate/(1<<20), float64(limit)/(1<<20), seen.n.Load())
	if seen.n.Load() == 0 {
		t.Fatal("the consumer was never throttled")
	}
	// 2 s of allowance (the minimum window) is fetched at once; the rest at about the quota.
	if rate > 2*limit {
		t.Fatalf("consumed at %.2f MiB/s, far over the quota", rate/(1<<20))
	}
}
