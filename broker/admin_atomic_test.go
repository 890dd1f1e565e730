//go:build linux

package broker

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
	"github.com/bulwark-kafka/bulwark/broker/meta"
)

// openFiles counts this process's open descriptors.
func openFiles(t *testing.T) uint64 {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return uint64(len(entries))
}

// withFileLimit runs fn with the soft open-file limit lowered to n, the way an operator's
// ulimit makes file creation fail part-way through a large admin request.
func withFileLimit(t *testing.T, n uint64, fn func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Fatal(err)
		}
	}()
	fn()
}

// partitionDirs lists the partition directories of topic under dir.
func partitionDirs(t *testing.T, dir, topic string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if i := strings.LastIndexByte(e.Name(), '-'); i > 0 && e.Name()[:i] == topic {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestCreateTopicsAllOrNothing makes file creation fail at every step of creating a
// 10-partition topic (and then of adding 10 partitions to one): each attempt either creates
// everything or answers an error and leaves no trace, the name stays usable, and the broker
// restarts.
func TestCreateTopicsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	rc := dialRaw(t, b.Addr) // opened before the limit is lowered
	const parts = 10
	succeeded, failed := 0, 0
	for extra := uint64(0); extra <= 4*parts+10; extra++ {
		name := "atomic"
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Topics = []kmsg.CreateTopicsRequestTopic{newCreateTopic(name, parts, 1)}
		req.SetVersion(7)
		var resp *kmsg.CreateTopicsResponse
		withFileLimit(t, openFiles(t)+extra, func() {
			resp = rc.roundTrip(req).(*kmsg.CreateTopicsResponse)
		})
		code := resp.Topics[0].ErrorCode
		dirs := partitionDirs(t, dir, name)
		mt, inMeta := b.cluster.store.State().Topics[name]
		switch {
		case code == 0:
			succeeded++
			if !inMeta || len(mt.Partitions) != parts || len(dirs) != parts || b.cluster.lookupTopic(name) == nil {
				t.Fatalf("limit +%d: created, but metadata %v, %d dirs", extra, inMeta, len(dirs))
			}
			del := kmsg.NewPtrDeleteTopicsRequest()
			del.TopicNames = []string{name}
			del.SetVersion(5)
			if c := rc.roundTrip(del).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode; c != 0 {
				t.Fatalf("delete after success: %v", kerr.ErrorForCode(c))
			}
		default:
			failed++
			if inMeta || len(dirs) != 0 || b.cluster.lookupTopic(name) != nil {
				t.Fatalf("limit +%d: failed with %v but left metadata %v and dirs %v", extra, kerr.ErrorForCode(code), inMeta, dirs)
			}
		}
	}
	if failed == 0 || succeeded == 0 {
		t.Fatalf("%d attempts failed and %d succeeded: the limits did not cover every step", failed, succeeded)
	}

	// The same for CreatePartitions on a topic that exists.
	mustCreateTopic(t, b.Admin(t), "grow", 1, nil)
	grown := false
	for extra := uint64(0); extra <= 4*parts+10 && !grown; extra++ {
		req := kmsg.NewPtrCreatePartitionsRequest()
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "grow", 1+parts
		req.Topics = []kmsg.CreatePartitionsRequestTopic{rt}
		req.SetVersion(3)
		var resp *kmsg.CreatePartitionsResponse
		withFileLimit(t, openFiles(t)+extra, func() {
			resp = rc.roundTrip(req).(*kmsg.CreatePartitionsResponse)
		})
		dirs := partitionDirs(t, dir, "grow")
		have := len(b.cluster.store.State().Topics["grow"].Partitions)
		if resp.Topics[0].ErrorCode == 0 {
			grown = true
			if have != 1+parts || len(dirs) != 1+parts || len(b.cluster.lookupTopic("grow").partitions) != 1+parts {
				t.Fatalf("limit +%d: grown, but metadata has %d partitions, %d dirs", extra, have, len(dirs))
			}
			continue
		}
		if have != 1 || len(dirs) != 1 || len(b.cluster.lookupTopic("grow").partitions) != 1 {
			t.Fatalf("limit +%d: refused with %v but metadata has %d partitions, dirs %v", extra, kerr.ErrorForCode(resp.Topics[0].ErrorCode), have, dirs)
		}
	}
	if !grown {
		t.Fatal("CreatePartitions never succeeded")
	}

	rc.nc.Close()
	b.stop(t)
	b = startTestBroker(t, dir)
	if got := len(b.cluster.lookupTopic("grow").partitions); got != 1+parts {
		t.Fatalf("after restart grow has %d partitions", got)
	}
	mustCreateTopic(t, b.Admin(t), "atomic", parts, nil)
}

// TestCrashBeforeTopicRecordLeavesNoTopic starts a broker on the state a crash leaves between
// creating a topic's logs and writing its metadata record: the directories are removed, the
// broker starts and the name can be created.
func TestCrashBeforeTopicRecordLeavesNoTopic(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	b.stop(t)
	id := meta.NewTopicID()
	for i := range 3 {
		pdir := filepath.Join(dir, "half-"+string(rune('0'+i)))
		if err := claimPartitionDir(pdir, id); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pdir, "00000000000000000000.log"), nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	b = startTestBroker(t, dir)
	if dirs := partitionDirs(t, dir, "half"); len(dirs) != 0 {
		t.Fatalf("directories of the unrecorded topic remain: %v", dirs)
	}
	mustCreateTopic(t, b.Admin(t), "half", 3, nil)
}

// TestCreateTopicsAdmission refuses creations that would pass bulwark.max.partitions, up front
// and naming the limit, validate_only included, and admits those that fit.
func TestCreateTopicsAdmission(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.MaxPartitions = 700 }))
	rc := dialRaw(t, b.Addr)
	create := func(name string, parts int32, validateOnly bool) kmsg.CreateTopicsResponseTopic {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Topics = []kmsg.CreateTopicsRequestTopic{newCreateTopic(name, parts, 1)}
		req.ValidateOnly = validateOnly
		req.SetVersion(7)
		return rc.roundTrip(req).(*kmsg.CreateTopicsResponse).Topics[0]
	}
	have := int32(b.cluster.partitionCount())
	for _, validateOnly := range []bool{true, false} {
		r := create("big", 701-have, validateOnly)
		wantCode(t, "one partition over the limit", r.ErrorCode, kerr.PolicyViolation)
		if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "limit of 700 (bulwark.max.partitions)") {
			t.Errorf("message %v does not name the limit", r.ErrorMessage)
		}
	}
	if dirs := partitionDirs(t, b.Dir, "big"); len(dirs) != 0 {
		t.Fatalf("a refused creation left %v", dirs)
	}
	wantCode(t, "up to the limit", create("fits", 600-have, false).ErrorCode, nil)

	grow := func(total int32) int16 {
		req := kmsg.NewPtrCreatePartitionsRequest()
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "fits", total
		req.Topics = []kmsg.CreatePartitionsRequestTopic{rt}
		req.SetVersion(3)
		return rc.roundTrip(req).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode
	}
	wantCode(t, "growing past the limit", grow(700-have+1), kerr.PolicyViolation)
	if got := len(b.cluster.lookupTopic("fits").partitions); got != int(600-have) {
		t.Fatalf("refused growth left %d partitions", got)
	}
	wantCode(t, "growing to the limit", grow(700-have), nil)

	// A log directory under its free-space minimum takes no new partitions either.
	b.cluster.space.setSpace(func(string) (int64, int64, error) { return 1 << 40, 1 << 20, nil })
	b.cluster.space.check(b.cluster)
	b.cluster.cfg.MaxPartitions = 0
	r := create("onfulldisk", 1, false)
	wantCode(t, "a disk under its minimum", r.ErrorCode, kerr.PolicyViolation)
	if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "bulwark.log.dirs.min.free.bytes") {
		t.Errorf("message %v does not name the limit", r.ErrorMessage)
	}
}

// TestMorePartitionsThanOpenFiles is the operator's case from issue 17 against the real limit:
// a broker started under a low open-file limit creates a topic with more partitions than it may
// open files, produces to every partition, restarts and reads them all back. Idle partitions
// hold no descriptor; the cache of open files stays within its budget throughout.
func TestMorePartitionsThanOpenFiles(t *testing.T) {
	const parts = 2000
	dir := t.TempDir()
	withFileLimit(t, openFiles(t)+1500, func() {
		b := startTestBroker(t, dir)
		budget := b.cluster.files.Stats().Budget
		if budget >= parts {
			t.Fatalf("budget %d: the limit was not lowered enough to matter", budget)
		}
		mustCreateTopic(t, b.Admin(t), "wide", parts, nil)
		produceOneEach(t, b, "wide", parts)
		if st := b.cluster.files.Stats(); st.Open > budget || st.Evictions == 0 {
			t.Fatalf("cache %+v: want at most %d open and some evicted", st, budget)
		}
		b.stop(t)

		b = startTestBroker(t, dir)
		consumeOneEach(t, b, "wide", parts)
		if st := b.cluster.files.Stats(); st.Open > st.Budget {
			t.Fatalf("cache %+v after reading every partition", st)
		}
	})
}

// produceOneEach produces one record to each of a topic's n partitions (values "0" to "n-1").
func produceOneEach(t *testing.T, b *testBroker, topic string, n int) {
	t.Helper()
	cl := b.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce to every partition of %s: %v", topic, err)
	}
}

// consumeOneEach reads a topic from the start until it has seen the n distinct values
// produceOneEach wrote.
func consumeOneEach(t *testing.T, b *testBroker, topic string, n int) {
	t.Helper()
	consumer := b.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]bool{}
	for len(seen) < n {
		fs := consumer.PollFetches(testContext(t))
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume %s: %v (%d of %d read)", topic, err, len(seen), n)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
}
