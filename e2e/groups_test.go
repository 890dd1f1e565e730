package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupBrokerConfig makes a new group's first rebalance start at once instead of after the default
// 3 s wait for more members, which keeps these tests fast; the kcat test waits for the group to
// hold both members itself rather than relying on that delay.
var groupBrokerConfig = map[string]string{"group.initial.rebalance.delay.ms": "0"}

// partOff names one record by partition and offset.
type partOff struct {
	p int32
	o int64
}

func (po partOff) String() string { return fmt.Sprintf("%d@%d", po.p, po.o) }

// keyedRecord is a produced record's key and value.
type keyedRecord struct{ key, value string }

// produceKeyed produces n keyed records to topic with franz-go (acks=all), record i to partition
// i%partitions, and returns every record by its acknowledged partition and offset. Batches are
// uncompressed: franz-go's default is snappy, which kafka-python cannot decode without a Python
// snappy module the suite does not install.
func produceKeyed(t *testing.T, addr, topic string, partitions int32, n int, prefix string) map[partOff]keyedRecord {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	recs := make([]*kgo.Record, n)
	for i := range n {
		recs[i] = &kgo.Record{
			Partition: int32(i) % partitions,
			Key:       []byte(fmt.Sprintf("%s-key-%04d", prefix, i)),
			// No spaces: kcat prints "%p %o %k %s" and the test splits on them.
			Value: []byte(fmt.Sprintf("%s-value-%04d-%s", prefix, i, strings.Repeat("v", i%23))),
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce %d records to %s: %v", n, topic, err)
	}
	out := make(map[partOff]keyedRecord, n)
	for _, r := range res {
		out[partOff{r.Record.Partition, r.Record.Offset}] = keyedRecord{string(r.Record.Key), string(r.Record.Value)}
	}
	if len(out) != n {
		t.Fatalf("produce to %s: %d distinct partition/offset pairs acknowledged for %d records", topic, len(out), n)
	}
	return out
}

// committedOffsets reads the group's committed offsets for topic with kadm (OffsetFetch).
func committedOffsets(t *testing.T, addr, group, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("FetchOffsets %s: %v", group, err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

// checkCommittedAtEnd requires the group's committed offset of every partition of topic to equal
// the partition's end offset (high watermark).
func checkCommittedAtEnd(t *testing.T, addr, group, topic string) {
	t.Helper()
	_, end := partitionBounds(t, addr, topic)
	committed := committedOffsets(t, addr, group, topic)
	for p, e := range end {
		c, ok := committed[p]
		switch {
		case !ok:
			t.Errorf("group %s: no committed offset for %s[%d] (end offset %d); committed %v", group, topic, p, e, committed)
		case c != e:
			t.Errorf("group %s: committed offset of %s[%d] is %d, want the end offset %d", group, topic, p, c, e)
		}
	}
}

// lockedBuffer collects a child process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kcatMember is one running `kcat -G` balanced consumer.
type kcatMember struct {
	clientID       string
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	done           chan struct{} // closed when the process has exited
	exitErr        error
}

// startKcatMember starts kcat as a member of group reading topic from the beginning; the process
// is killed at cleanup if the test did not stop it.
func startKcatMember(t *testing.T, kcat, addr, group, topic, clientID string) *kcatMember {
	t.Helper()
	m := &kcatMember{clientID: clientID, done: make(chan struct{})}
	// -u: unbuffered output, so the test sees each record as kcat prints it (stdout is a pipe).
	m.cmd = exec.Command(kcat, "-G", group, "-b", addr, "-o", "beginning", "-u",
		"-f", "%p %o %k %s\n", "-X", "auto.commit.interval.ms=200", "-X", "client.id="+clientID, topic)
	m.cmd.Stdout = &m.stdout
	m.cmd.Stderr = &m.stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start kcat -G (%s): %v", clientID, err)
	}
	go func() {
		m.exitErr = m.cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			_ = m.cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			t.Logf("kcat %s stderr:\n%s", clientID, clip(m.stderr.String()))
		}
	})
	return m
}

// exited reports whether the process has ended (on its own, while the test expected it to run).
func (m *kcatMember) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// terminate sends SIGTERM, on which kcat leaves its poll loop and closes the consumer (librdkafka
// then commits the consumed offsets and leaves the group), and requires exit status 0.
func (m *kcatMember) terminate(t *testing.T) {
	t.Helper()
	if m.exited() {
		t.Fatalf("kcat %s exited before the test stopped it: %v\nstderr:\n%s", m.clientID, m.exitErr, clip(m.stderr.String()))
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM kcat %s: %v", m.clientID, err)
	}
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
		t.Fatalf("kcat %s did not exit within 30s of SIGTERM\nstderr:\n%s", m.clientID, clip(m.stderr.String()))
	}
	if m.exitErr != nil {
		t.Errorf("kcat %s exit after SIGTERM: %v (want status 0)\nstderr:\n%s", m.clientID, m.exitErr, clip(m.stderr.String()))
	}
}

// records parses the complete "partition offset key value" lines printed so far, and lists the
// records printed more than once.
func (m *kcatMember) records(t *testing.T) (map[partOff]keyedRecord, []partOff) {
	t.Helper()
	out := m.stdout.String()
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[:i+1]
	} else {
		out = ""
	}
	recs := map[partOff]keyedRecord{}
	var dups []partOff
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("kcat %s printed an unexpected line %q", m.clientID, line)
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kcat %s printed an unexpected line %q", m.clientID, line)
		}
		po := partOff{int32(p), o}
		if _, dup := recs[po]; dup {
			dups = append(dups, po)
		}
		recs[po] = keyedRecord{f[2], f[3]}
	}
	return recs, dups
}

// waitGroupSplit polls DescribeGroups until group is Stable with exactly `members` members, each
// assigned at least one partition of topic and together all `partitions` of them, and returns
// each member's partitions by client id.
func waitGroupSplit(t *testing.T, addr, group, topic string, members int, partitions int32) map[string][]int32 {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	var assigned map[string][]int32
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		groups, err := adm.DescribeGroups(ctx, group)
		cancel()
		if err == nil {
			g := groups[group]
			assigned, last = splitOf(g, topic)
			if g.Err == nil && g.State == "Stable" && len(g.Members) == members && len(assigned) == members {
				seen := map[int32]bool{}
				ok := true
				for _, ps := range assigned {
					ok = ok && len(ps) > 0
					for _, p := range ps {
						seen[p] = true
					}
				}
				if ok && int32(len(seen)) == partitions {
					return assigned
				}
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s did not become Stable with %d members splitting %d partitions within 60s; last: %s",
				group, members, partitions, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// splitOf returns a described group's assignment of topic by member client id, and a summary.
func splitOf(g kadm.DescribedGroup, topic string) (map[string][]int32, string) {
	assigned := map[string][]int32{}
	for _, m := range g.Members {
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, at := range c.Topics {
				if at.Topic == topic {
					assigned[m.ClientID] = append(assigned[m.ClientID], at.Partitions...)
				}
			}
		}
	}
	return assigned, fmt.Sprintf("state=%q members=%d err=%v assignment=%v", g.State, len(g.Members), g.Err, assigned)
}

// TestKcatConsumerGroup runs two kcat balanced consumers (`kcat -G`, librdkafka 2.0.2) in one
// group over a 4-partition topic and checks that the group split the partitions between them,
// that together they read all 400 records, and that librdkafka's commits (every 200 ms and on
// close) leave the group's committed offsets at the end of every partition.
//
// Why not `kcat -e` (exit at end of partitions): with group.initial.rebalance.delay.ms=0 the first
// kcat to join gets all four partitions at once and can read every record and exit before the
// second one has joined, and an empty partition is "at end" immediately, so no ordering of starts
// and produces makes two `-e` processes reliably share the group. `-c` (stop after a count) has
// the same race, since the split is not known in advance. Instead both processes run without
// -e; the test waits (DescribeGroups) until the group is Stable with both members holding
// partitions, only then produces the records, waits until the two outputs together hold all of
// them, and stops both with SIGTERM, on which kcat closes the consumer and librdkafka commits.
// Since nothing rebalances after the records exist, each record is printed exactly once, by the
// member the coordinator assigned its partition to.
func TestKcatConsumerGroup(t *testing.T) {
	kcat := requireExecutable(t, "kcat")
	b := startBroker(t, groupBrokerConfig)
	const (
		topic      = "kcat-group"
		group      = "kcat-group"
		partitions = 4
		n          = 400
	)
	createTopic(t, b.Addr(), topic, partitions, nil)

	start := time.Now()
	ms := []*kcatMember{
		startKcatMember(t, kcat, b.Addr(), group, topic, "kcat-a"),
		startKcatMember(t, kcat, b.Addr(), group, topic, "kcat-b"),
	}
	assigned := waitGroupSplit(t, b.Addr(), group, topic, 2, partitions)
	t.Logf("group %s stable after %v: assignment %v", group, time.Since(start).Round(time.Millisecond), assigned)

	want := produceKeyed(t, b.Addr(), topic, partitions, n, "kg")
	waitFor(t, 60*time.Second, "the two kcat consumers to print all 400 records", func() bool {
		for _, m := range ms {
			if m.exited() {
				t.Fatalf("kcat %s exited early: %v\nstderr:\n%s", m.clientID, m.exitErr, clip(m.stderr.String()))
			}
		}
		ra, _ := ms[0].records(t)
		rb, _ := ms[1].records(t)
		return len(ra)+len(rb) >= n
	})
	for _, m := range ms {
		m.terminate(t)
	}

	union := map[partOff]string{} // record -> client id that printed it
	for _, m := range ms {
		recs, dups := m.records(t)
		if len(dups) > 0 {
			t.Errorf("kcat %s printed %d records more than once (first %s): it was assigned a partition "+
				"again (kcat -o beginning restarts every assignment at offset 0), so the group "+
				"rebalanced after it was stable and before any record was produced", m.clientID, len(dups), dups[0])
		}
		parts := map[int32]bool{}
		for po, r := range recs {
			parts[po.p] = true
			if other, dup := union[po]; dup {
				t.Errorf("record %s printed by both %s and %s", po, other, m.clientID)
			}
			union[po] = m.clientID
			if w, ok := want[po]; !ok {
				t.Errorf("kcat %s printed %s, which was never produced", m.clientID, po)
			} else if w != r {
				t.Errorf("kcat %s printed %s as %q:%q, want %q:%q", m.clientID, po, r.key, r.value, w.key, w.value)
			}
		}
		got := sortedParts(parts)
		t.Logf("kcat %s printed %d records from partitions %v", m.clientID, len(recs), got)
		if len(got) == 0 {
			t.Errorf("kcat %s printed no record: it was never given a partition", m.clientID)
		}
		if exp := sortedInt32(assigned[m.clientID]); fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("kcat %s printed records of partitions %v, but DescribeGroups assigned it %v", m.clientID, got, exp)
		}
	}
	for po := range want {
		if _, ok := union[po]; !ok {
			t.Errorf("record %s was printed by neither kcat", po)
		}
	}
	checkCommittedAtEnd(t, b.Addr(), group, topic)
}

func sortedParts(set map[int32]bool) []int32 {
	out := make([]int32, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	return sortedInt32(out)
}

func sortedInt32(ps []int32) []int32 {
	out := append([]int32(nil), ps...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// pyGroupResult is the JSON document the *_group.py scripts print.
type pyGroupResult struct {
	Consumed   []pyRecord `json:"consumed"`
	Errors     []string   `json:"errors"`
	Assignment []int32    `json:"assignment"`
}

// runGroupScript runs one consumer-group member script to completion and checks its report: no
// consume or commit error, every consumed record one that was produced, none twice.
func runGroupScript(t *testing.T, py, script, addr, topic, group string, maxMessages int, want map[partOff]keyedRecord) map[partOff]bool {
	t.Helper()
	start := time.Now()
	res := runProgram(t, 120*time.Second, "", py, filepath.Join("testdata", script),
		"--bootstrap", addr, "--topic", topic, "--group", group,
		"--max", strconv.Itoa(maxMessages), "--timeout", "5", "--limit", "90")
	if res.err != nil || res.code != 0 {
		t.Fatalf("%s: %v (exit %d)\nstderr:\n%s\nstdout:\n%s", script, res.err, res.code, clip(res.stderr), clip(res.stdout))
	}
	var r pyGroupResult
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatalf("%s: bad JSON report: %v\nstdout:\n%s\nstderr:\n%s", script, err, clip(res.stdout), clip(res.stderr))
	}
	for _, e := range r.Errors {
		// error_cb reports ("client:") are connection-level and often transient; a failed poll
		// or a failed commit is a failure.
		if strings.HasPrefix(e, "consume:") || strings.HasPrefix(e, "commit:") {
			t.Errorf("%s reported: %s", script, e)
		} else {
			t.Logf("%s reported (not fatal): %s", script, e)
		}
	}
	got := map[partOff]bool{}
	for _, m := range r.Consumed {
		po := partOff{m.Partition, m.Offset}
		if got[po] {
			t.Errorf("%s consumed %s twice", script, po)
		}
		got[po] = true
		w, ok := want[po]
		switch {
		case !ok:
			t.Errorf("%s consumed %s, which was never produced", script, po)
		case m.Key == nil || m.Value == nil || *m.Key != w.key || *m.Value != w.value:
			t.Errorf("%s consumed %s", script, describe(m))
		}
	}
	t.Logf("%s consumed %d records in %v; assigned partitions %v", script, len(r.Consumed),
		time.Since(start).Round(time.Millisecond), r.Assignment)
	if len(r.Assignment) == 0 {
		t.Errorf("%s was never assigned a partition", script)
	}
	return got
}

// expectedCommits is what a member that consumed got (each partition from offset 0, in order)
// must have committed: the next offset of every partition it read.
func expectedCommits(got map[partOff]bool) map[int32]int64 {
	out := map[int32]int64{}
	for po := range got {
		if po.o+1 > out[po.p] {
			out[po.p] = po.o + 1
		}
	}
	return out
}

// testGroupCommitSurvivesRestart is the body of the two Python group tests: 300 records over 3
// partitions; the script consumes and commits 200; the broker goes down (restart) and comes back
// on the same data directory; the committed offsets read back unchanged; the script, in the same
// group, then consumes exactly the other 100.
func testGroupCommitSurvivesRestart(t *testing.T, py, script string, restart func(*brokerProc)) {
	t.Helper()
	b := startBroker(t, groupBrokerConfig)
	const (
		partitions = 3
		n          = 300
		first      = 200
	)
	topic := strings.TrimSuffix(script, ".py")
	group := topic + "-group"
	createTopic(t, b.Addr(), topic, partitions, nil)
	want := produceKeyed(t, b.Addr(), topic, partitions, n, "pg")

	got1 := runGroupScript(t, py, script, b.Addr(), topic, group, first, want)
	if len(got1) != first {
		t.Fatalf("first run consumed %d distinct records, want %d", len(got1), first)
	}
	// A consumer reads each partition in order from the reset point (earliest), so what it read
	// of a partition is a prefix, and its commit is the end of that prefix.
	wantCommits := expectedCommits(got1)
	for po := range got1 {
		for o := int64(0); o < po.o; o++ {
			if !got1[partOff{po.p, o}] {
				t.Fatalf("first run consumed %s but not %d@%d: not a prefix of the partition", po, po.p, o)
			}
		}
	}
	before := committedOffsets(t, b.Addr(), group, topic)
	for p := range int32(partitions) {
		// A partition the member was assigned but read nothing of may be committed at its
		// position, 0 (kafka-python commits every assigned partition), or not at all (librdkafka
		// commits only what it consumed).
		c, ok := before[p]
		if w := wantCommits[p]; (ok || w != 0) && c != w {
			t.Fatalf("after the first run the group's committed offsets are %v, want %v (the end of what it consumed)", before, wantCommits)
		}
	}

	restart(b)
	after := committedOffsets(t, b.Addr(), group, topic)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("committed offsets did not survive the broker restart: %v before, %v after", before, after)
	}

	got2 := runGroupScript(t, py, script, b.Addr(), topic, group, n, want)
	for po := range got2 {
		if got1[po] {
			t.Errorf("second run consumed %s again: the first run had consumed and committed it", po)
		}
	}
	if len(got2) != n-first {
		t.Errorf("second run consumed %d records, want exactly the remaining %d", len(got2), n-first)
	}
	for po := range want {
		if !got1[po] && !got2[po] {
			t.Errorf("record %s consumed by neither run", po)
		}
	}
	checkCommittedAtEnd(t, b.Addr(), group, topic)
}

// TestConfluentKafkaPythonGroup: a confluent-kafka-python (librdkafka) group member's synchronous
// commit survives a clean broker restart (SIGTERM, then a new process on the same data directory).
func TestConfluentKafkaPythonGroup(t *testing.T) {
	py := requirePythonModule(t, "confluent_kafka", "python3-confluent-kafka")
	testGroupCommitSurvivesRestart(t, py, "confluent_kafka_group.py", func(b *brokerProc) {
		took := b.stop(t)
		t.Logf("broker stopped (SIGTERM) in %v", took.Round(time.Millisecond))
		b.restart(t)
	})
}

// TestKafkaPythonGroup: a kafka-python group member's commit survives the broker being killed
// (SIGKILL, no chance to flush anything) and restarted on the same data directory.
func TestKafkaPythonGroup(t *testing.T) {
	py := requirePythonModule(t, "kafka", "python3-kafka")
	testGroupCommitSurvivesRestart(t, py, "kafka_python_group.py", func(b *brokerProc) {
		b.kill(t)
		t.Log("broker killed (SIGKILL)")
		b.restart(t)
	})
}
