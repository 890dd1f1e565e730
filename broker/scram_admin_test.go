package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

func TestScramCredentialAdmin(t *testing.T) {
	dir := t.TempDir()
	b := startTestBroker(t, dir)
	adm := b.Admin(t)
	ctx := testContext(t)
	altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "a-pw"},
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "a-pw"},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "b-pw"},
	})
	if err != nil || altered.Error() != nil {
		t.Fatalf("alter: %v %v", err, altered.Error())
	}
	st := b.cluster.store.State()
	if c := st.ScramUsers["alice"]["SCRAM-SHA-512"]; c.Iterations != 8192 || len(c.StoredKey) != 64 {
		t.Fatalf("stored credential = %+v", c)
	}
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil || len(described) != 2 || len(described["alice"].CredInfos) != 2 || described["bob"].CredInfos[0].Iterations != 4096 {
		t.Fatalf("describe all: %v %+v", err, described)
	}

	// Restart: credentials are durable.
	b.stop(t)
	b = startTestBroker(t, dir)
	if got := b.cluster.store.State().ScramUsers; len(got) != 2 {
		t.Fatalf("after restart users = %v", got)
	}

	rc := dialRaw(t, b.Addr)
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	del := func(name string, mech int8) {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = name, mech
		req.Deletions = append(req.Deletions, d)
	}
	up := func(name string, mech int8, iter int32, salted int) {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = name, mech, iter, []byte("salt"), make([]byte, salted)
		req.Upsertions = append(req.Upsertions, u)
	}
	del("bob", 2)           // fine
	del("carol", 1)         // no such credential
	up("dave", 1, 100, 32)  // too few iterations
	up("erin", 3, 4096, 32) // unknown mechanism
	up("frank", 1, 4096, 31)
	up("gina", 1, 4096, 32)
	up("gina", 1, 4096, 32) // twice
	up("", 1, 4096, 32)
	up("hank", 2, 4096, 64) // fine
	resp := rc.roundTrip(req).(*kmsg.AlterUserSCRAMCredentialsResponse)
	want := map[string]int16{"bob": 0, "carol": kerr.ResourceNotFound.Code, "dave": kerr.UnacceptableCredential.Code,
		"erin": kerr.UnsupportedSaslMechanism.Code, "frank": kerr.UnacceptableCredential.Code,
		"gina": kerr.DuplicateResource.Code, "": kerr.UnacceptableCredential.Code, "hank": 0}
	if len(resp.Results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(resp.Results), len(want), resp.Results)
	}
	for _, r := range resp.Results {
		if r.ErrorCode != want[r.User] {
			t.Errorf("user %q: error %d, want %d", r.User, r.ErrorCode, want[r.User])
		}
	}
	users := b.cluster.store.State().ScramUsers
	if _, ok := users["bob"]; ok {
		t.Fatal("bob's only credential was deleted, yet bob remains")
	}
	if _, ok := users["hank"]; !ok {
		t.Fatal("hank was not created")
	}
	if _, ok := users["gina"]; ok {
		t.Fatal("gina's duplicated upsertion applied")
	}

	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range []string{"alice", "nobody", "hank", "hank"} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		dreq.Users = append(dreq.Users, u)
	}
	dresp := rc.roundTrip(dreq).(*kmsg.DescribeUserSCRAMCredentialsResponse)
	got := map[string]int16{}
	for _, r := range dresp.Results {
		got[r.User] = r.ErrorCode
	}
	if len(dresp.Results) != 3 || got["alice"] != 0 || got["nobody"] != kerr.ResourceNotFound.Code || got["hank"] != kerr.DuplicateResource.Code {
		t.Fatalf("describe results = %+v", dresp.Results)
	}
}

func TestBootstrapUsersOnlyAtFirstStart(t *testing.T) {
	dir := t.TempDir()
	boot := withConfig(func(c *config.Config) { c.BootstrapUsers = map[string]string{"admin": "first"} })
	b := startTestBroker(t, dir, boot)
	first := b.cluster.store.State().ScramUsers["admin"]
	if len(first) != 2 {
		t.Fatalf("bootstrap users = %v", b.cluster.store.State().ScramUsers)
	}
	b.stop(t)
	b = startTestBroker(t, dir, withConfig(func(c *config.Config) { c.BootstrapUsers = map[string]string{"admin": "changed"} }))
	again := b.cluster.store.State().ScramUsers["admin"]
	if string(again["SCRAM-SHA-256"].StoredKey) != string(first["SCRAM-SHA-256"].StoredKey) {
		t.Fatal("a restart with bootstrap users reset an existing credential")
	}
}
