//go:build linux

package broker

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

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
	// Admission would refuse these creations up front (TestCreateTopicsAdmission); here they
	// must get through it and fail part-way, as when something else takes the descriptors
	// between admission and creation.
	b.cluster.files = fakeFiles{limit: 1 << 20}
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

// fakeFiles is an open-file budget with fixed figures.
type fakeFiles struct{ limit, inUse uint64 }

func (f fakeFiles) limitAndUse() (uint64, uint64, bool) { return f.limit, f.inUse, true }

// TestCreateTopicsAdmission refuses creations whose files would not fit the open-file budget,
// up front and naming the limit, validate_only included, and admits those that fit.
func TestCreateTopicsAdmission(t *testing.T) {
	b := newTestBroker(t)
	// 1,000 descriptors, 100 in use, 250 reserved: room for 650 partitions.
	b.cluster.files = fakeFiles{limit: 1000, inUse: 100}
	rc := dialRaw(t, b.Addr)
	create := func(name string, parts int32, validateOnly bool) kmsg.CreateTopicsResponseTopic {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Topics = []kmsg.CreateTopicsRequestTopic{newCreateTopic(name, parts, 1)}
		req.ValidateOnly = validateOnly
		req.SetVersion(7)
		return rc.roundTrip(req).(*kmsg.CreateTopicsResponse).Topics[0]
	}
	for _, validateOnly := range []bool{true, false} {
		r := create("big", 700, validateOnly)
		wantCode(t, "700 partitions", r.ErrorCode, kerr.PolicyViolation)
		if r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "open-file limit is 1000") {
			t.Errorf("message %v does not name the limit", r.ErrorMessage)
		}
	}
	if dirs := partitionDirs(t, b.Dir, "big"); len(dirs) != 0 {
		t.Fatalf("a refused creation left %v", dirs)
	}
	wantCode(t, "600 partitions", create("fits", 600, false).ErrorCode, nil)

	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "fits", 700
	req.Topics = []kmsg.CreatePartitionsRequestTopic{rt}
	req.SetVersion(3)
	b.cluster.files = fakeFiles{limit: 1000, inUse: 700} // the 600 partitions' files are in use now
	wantCode(t, "growing to 700", rc.roundTrip(req).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode, kerr.PolicyViolation)
	if got := len(b.cluster.lookupTopic("fits").partitions); got != 600 {
		t.Fatalf("refused growth left %d partitions", got)
	}
}

// TestTooManyPartitionsForTheLimit is the operator's case from issue 17 against the real
// budget: under a lowered open-file limit, a topic with more partitions than the limit allows is
// refused up front, nothing is left on disk, and the broker restarts.
func TestTooManyPartitionsForTheLimit(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	rc := dialRaw(t, b.Addr)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = []kmsg.CreateTopicsRequestTopic{newCreateTopic("wide", 2000, 1)}
	req.SetVersion(7)
	var r kmsg.CreateTopicsResponseTopic
	withFileLimit(t, openFiles(t)+1500, func() {
		r = rc.roundTrip(req).(*kmsg.CreateTopicsResponse).Topics[0]
	})
	wantCode(t, "2,000 partitions under a limit of 1,500 more files", r.ErrorCode, kerr.PolicyViolation)
	if dirs := partitionDirs(t, dir, "wide"); len(dirs) != 0 {
		t.Fatalf("%d partition directories left", len(dirs))
	}
	rc.nc.Close()
	b.stop(t)
	b = startTestBroker(t, dir)
	mustCreateTopic(t, b.Admin(t), "wide", 20, nil)
}
