package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// idempotentBatch builds an n-record batch from producer pid/epoch starting at sequence seq.
func idempotentBatch(n int, pid int64, epoch int16, seq int32, transactional bool) []byte {
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Value: fmt.Appendf(nil, "seq-%d", int(seq)+i)}
	}
	return record.BuildBatch(record.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
		Transactional: transactional, BaseTimestamp: time.Now().UnixMilli()}, recs)
}

// produceRaw sends one batch to topic/partition 0 and returns the partition's answer.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, batch []byte, txnID *string) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis, req.TransactionID = -1, 5000, txnID
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func initProducerID(t *testing.T, cl *kgo.Client, txnID *string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = txnID, 60000
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func TestIdempotentProduceSequences(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	mustCreateTopic(t, b.Admin(t), "idem", 1, nil)
	cl := b.Client(t)
	pid, epoch := initProducerID(t, cl, nil)
	pid2, _ := initProducerID(t, cl, nil)
	if pid2 == pid {
		t.Fatalf("two producers got the same id %d", pid)
	}

	expect := func(what string, p kmsg.ProduceResponseTopicPartition, code int16, base int64) {
		t.Helper()
		if p.ErrorCode != code || (code == 0 && p.BaseOffset != base) {
			t.Fatalf("%s: error %v base %d; want %v base %d", what, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, kerr.ErrorForCode(code), base)
		}
	}
	expect("first batch", produceRaw(t, cl, "idem", idempotentBatch(3, pid, epoch, 0, false), nil), 0, 0)
	expect("second batch", produceRaw(t, cl, "idem", idempotentBatch(2, pid, epoch, 3, false), nil), 0, 3)
	expect("duplicate of the first", produceRaw(t, cl, "idem", idempotentBatch(3, pid, epoch, 0, false), nil), 0, 0)
	expect("duplicate of the second", produceRaw(t, cl, "idem", idempotentBatch(2, pid, epoch, 3, false), nil), 0, 3)
	expect("gap", produceRaw(t, cl, "idem", idempotentBatch(1, pid, epoch, 9, false), nil), kerr.OutOfOrderSequenceNumber.Code, 0)
	expect("bumped epoch at 0", produceRaw(t, cl, "idem", idempotentBatch(1, pid, epoch+1, 0, false), nil), 0, 5)
	expect("stale epoch", produceRaw(t, cl, "idem", idempotentBatch(1, pid, epoch, 5, false), nil), kerr.InvalidProducerEpoch.Code, 0)
	expect("transactional batch outside a transaction", produceRaw(t, cl, "idem", idempotentBatch(1, pid2, 0, 0, true), nil),
		kerr.InvalidProducerIDMapping.Code, 0)

	// The state survives a restart: the retry is still recognised, a gap still refused.
	b.stop(t)
	b = startTestBroker(t, dir)
	cl = b.Client(t)
	expect("duplicate after restart", produceRaw(t, cl, "idem", idempotentBatch(1, pid, epoch+1, 0, false), nil), 0, 5)
	expect("gap after restart", produceRaw(t, cl, "idem", idempotentBatch(1, pid, epoch+1, 3, false), nil), kerr.OutOfOrderSequenceNumber.Code, 0)
	expect("next after restart", produceRaw(t, cl, "idem", idempotentBatch(1, pid, epoch+1, 1, false), nil), 0, 6)
	end, err := b.Admin(t).ListEndOffsets(testContext(t), "idem")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := end.Lookup("idem", 0); o.Offset != 7 {
		t.Fatalf("log end offset %d, want 7 (duplicates must not be stored)", o.Offset)
	}
	// DescribeProducers shows the producer with its last sequence.
	dp := kmsg.NewPtrDescribeProducersRequest()
	dp.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: "idem", Partitions: []int32{0}}}
	dpr, err := dp.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ap := range dpr.Topics[0].Partitions[0].ActiveProducers {
		if ap.ProducerID == pid {
			found = ap.ProducerEpoch == int32(epoch+1) && ap.LastSequence == 1 && ap.CurrentTxnStartOffset == -1
		}
	}
	if !found {
		t.Fatalf("DescribeProducers: %+v", dpr.Topics[0].Partitions[0].ActiveProducers)
	}
}

// fastTxns shortens the transaction coordinator's timers for tests.
func fastTxns() testOption {
	return withConfig(func(c *config.Config) {
		for k, v := range map[string]string{
			"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200",
			"group.initial.rebalance.delay.ms":                            "0",
			"group.min.session.timeout.ms":                                "1000",
		} {
			if err := c.Set(k, v); err != nil {
				panic(err)
			}
		}
	})
}

// consumeQuiet reads topic from the start with the given isolation until a poll comes back
// empty, and returns the record values.
func consumeQuiet(t *testing.T, b *testBroker, topic string, isolation kgo.IsolationLevel) []string {
	t.Helper()
	cl := b.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(isolation), kgo.FetchMaxWait(100*time.Millisecond))
	var got []string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		if len(fs.Records()) == 0 && len(got) > 0 {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// produceTxn produces n records in a transaction and, when end is set, commits or aborts it.
func produceTxn(t *testing.T, cl *kgo.Client, topic, prefix string, n int, end *kgo.TransactionEndTry) {
	t.Helper()
	ctx := testContext(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%s-%d", prefix, i)}).FirstErr(); err != nil {
			t.Fatalf("produce in transaction: %v", err)
		}
	}
	if end != nil {
		if err := cl.EndTransaction(ctx, *end); err != nil {
			t.Fatalf("end transaction: %v", err)
		}
	}
}

// TestTransactionsReadCommitted runs twice: with transactions v2 (KIP-890 part 2: implicit
// partition adds, EndTxn v5 epoch bumps) and with a client capped at Kafka 3.9's versions, which
// uses AddPartitionsToTxn and AddOffsetsToTxn.
func TestTransactionsReadCommitted(t *testing.T) {
	t.Run("tv2", func(t *testing.T) { testTransactionsReadCommitted(t) })
	t.Run("kafka-3.9-client", func(t *testing.T) { testTransactionsReadCommitted(t, kgo.MaxVersions(kversion.V3_9_0())) })
}

func testTransactionsReadCommitted(t *testing.T, clientOpts ...kgo.Opt) {
	b := newTestBroker(t, fastTxns())
	mustCreateTopic(t, b.Admin(t), "tx", 2, nil)
	p := b.Client(t, append([]kgo.Opt{kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic("tx")}, clientOpts...)...)
	produceTxn(t, p, "tx", "committed", 10, endTry(kgo.TryCommit))
	produceTxn(t, p, "tx", "aborted", 5, endTry(kgo.TryAbort))
	produceTxn(t, p, "tx", "committed-again", 4, endTry(kgo.TryCommit))
	// An open transaction holds the last stable offset back.
	open := b.Client(t, append([]kgo.Opt{kgo.TransactionalID("tx-open")}, clientOpts...)...)
	produceTxn(t, open, "tx", "open", 3, nil)

	committed := consumeQuiet(t, b, "tx", kgo.ReadCommitted())
	if len(committed) != 14 {
		t.Fatalf("read_committed saw %d records, want the 14 committed: %v", len(committed), committed)
	}
	for _, v := range committed {
		if len(v) >= 4 && (v[:4] == "abor" || v[:4] == "open") {
			t.Fatalf("read_committed saw %q", v)
		}
	}
	if all := consumeQuiet(t, b, "tx", kgo.ReadUncommitted()); len(all) != 22 {
		t.Fatalf("read_uncommitted saw %d records, want 22", len(all))
	}
	// ListOffsets: latest for read_committed stops at the open transaction.
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.IsolationLevel = 1
	lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "tx", Partitions: []kmsg.ListOffsetsRequestTopicPartition{
		{Partition: 0, Timestamp: -1, CurrentLeaderEpoch: -1}, {Partition: 1, Timestamp: -1, CurrentLeaderEpoch: -1}}}}
	committedEnd := int64(0)
	resp, err := lo.RequestWith(testContext(t), b.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics[0].Partitions {
		committedEnd += p.Offset
	}
	ends, err := b.Admin(t).ListEndOffsets(testContext(t), "tx")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if committedEnd >= total {
		t.Fatalf("read_committed latest %d not below the high watermark %d with an open transaction", committedEnd, total)
	}
	// Committing the open transaction releases it.
	if err := open.EndTransaction(testContext(t), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := consumeQuiet(t, b, "tx", kgo.ReadCommitted()); len(got) != 17 {
		t.Fatalf("after commit read_committed saw %d records, want 17", len(got))
	}
}

func TestTransactionTimeoutAndFencing(t *testing.T) {
	b := newTestBroker(t, fastTxns())
	mustCreateTopic(t, b.Admin(t), "tx", 1, nil)

	// Fencing: a second producer with the same transactional id fences the first.
	first := b.Client(t, kgo.TransactionalID("fenced"), kgo.DefaultProduceTopic("tx"))
	produceTxn(t, first, "tx", "zombie", 2, nil)
	second := b.Client(t, kgo.TransactionalID("fenced"), kgo.DefaultProduceTopic("tx"))
	produceTxn(t, second, "tx", "winner", 2, endTry(kgo.TryCommit))
	err := first.EndTransaction(testContext(t), kgo.TryCommit)
	var ke *kerr.Error
	if !errors.As(err, &ke) || (ke != kerr.ProducerFenced && ke != kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie commit: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}

	// Timeout: the coordinator aborts a transaction older than its timeout.
	slow := b.Client(t, kgo.TransactionalID("slow"), kgo.TransactionTimeout(time.Second), kgo.DefaultProduceTopic("tx"))
	produceTxn(t, slow, "tx", "timed-out", 3, nil)
	waitFor(t, "the coordinator to abort the timed-out transaction", 10*time.Second, func() bool {
		dt := kmsg.NewPtrDescribeTransactionsRequest()
		dt.TransactionalIDs = []string{"slow"}
		resp, err := dt.RequestWith(testContext(t), b.Client(t))
		return err == nil && len(resp.TransactionStates) == 1 && resp.TransactionStates[0].State == "CompleteAbort"
	})
	if err := slow.EndTransaction(testContext(t), kgo.TryCommit); err == nil {
		t.Fatal("committing a transaction the coordinator aborted succeeded")
	}
	got := consumeQuiet(t, b, "tx", kgo.ReadCommitted())
	if len(got) != 2 || got[0] != "winner-0" {
		t.Fatalf("read_committed saw %v, want only the winner's two records", got)
	}
	// ListTransactions shows both ids.
	lt := kmsg.NewPtrListTransactionsRequest()
	ltr, err := lt.RequestWith(testContext(t), b.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ltr.TransactionStates) < 2 {
		t.Fatalf("ListTransactions: %+v", ltr.TransactionStates)
	}
}

func endTry(v kgo.TransactionEndTry) *kgo.TransactionEndTry { return &v }
