package meta

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func scramCred(size int, iter int) ScramCredential {
	return ScramCredential{Salt: []byte("salt"), StoredKey: bytes.Repeat([]byte{1}, size),
		ServerKey: bytes.Repeat([]byte{2}, size), Iterations: iter}
}

func TestCredentialsSurviveReplayAndSnapshot(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	key := IAMKey{AccessKeyID: "AKIAEXAMPLE0000001", Secret: "s3cret", PrincipalARN: "arn:aws:iam::123456789012:user/alice",
		Expiry: time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)), CreatedAt: time.Now()}
	commitT(t, s,
		SetScramCredential{User: "alice", Mechanism: "SCRAM-SHA-256", Credential: scramCred(32, 4096)},
		SetScramCredential{User: "alice", Mechanism: "SCRAM-SHA-512", Credential: scramCred(64, 8192)},
		SetScramCredential{User: "bob", Mechanism: "SCRAM-SHA-512", Credential: scramCred(64, 4096)},
		SetIAMKey{Key: key})
	before := s.State()
	want := commitT(t, s, DeleteScramCredential{User: "bob", Mechanism: "SCRAM-SHA-512"})
	if _, ok := before.ScramUsers["bob"]; !ok {
		t.Fatal("an earlier State changed: copy-on-write broken")
	}
	if _, ok := want.ScramUsers["bob"]; ok || len(want.ScramUsers["alice"]) != 2 {
		t.Fatalf("users after delete = %v", want.ScramUsers)
	}
	if got := want.IAMKeys[key.AccessKeyID]; !got.Expiry.Equal(key.Expiry) || got.Secret != "s3cret" {
		t.Fatalf("key = %+v", got)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), want)
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), want)
	want = commitT(t, s, DeleteIAMKey{AccessKeyID: key.AccessKeyID})
	if want.IAMKeys != nil {
		t.Fatalf("keys after delete = %v", want.IAMKeys)
	}
	s = reopenT(t, s)
	requireSameState(t, s.State(), want)
}

func TestCredentialValidation(t *testing.T) {
	s := openT(t, t.TempDir(), Options{NodeID: 1})
	bad := []Record{
		SetScramCredential{User: "", Mechanism: "SCRAM-SHA-256", Credential: scramCred(32, 4096)},
		SetScramCredential{User: "a", Mechanism: "SCRAM-SHA-1", Credential: scramCred(20, 4096)},
		SetScramCredential{User: "a", Mechanism: "SCRAM-SHA-256", Credential: scramCred(32, 4095)},
		SetScramCredential{User: "a", Mechanism: "SCRAM-SHA-256", Credential: scramCred(32, 16385)},
		SetScramCredential{User: "a", Mechanism: "SCRAM-SHA-512", Credential: scramCred(32, 4096)},
		SetScramCredential{User: "a", Mechanism: "SCRAM-SHA-256", Credential: ScramCredential{StoredKey: make([]byte, 32), ServerKey: make([]byte, 32), Iterations: 4096}},
		DeleteScramCredential{User: "nobody", Mechanism: "SCRAM-SHA-256"},
		SetIAMKey{Key: IAMKey{AccessKeyID: "short", Secret: "x", PrincipalARN: "arn"}},
		SetIAMKey{Key: IAMKey{AccessKeyID: "akiaexample0000001", Secret: "x", PrincipalARN: "arn"}},
		SetIAMKey{Key: IAMKey{AccessKeyID: "AKIAEXAMPLE0000001", Secret: "", PrincipalARN: "arn"}},
		SetIAMKey{Key: IAMKey{AccessKeyID: "AKIAEXAMPLE0000001", Secret: "x", PrincipalARN: ""}},
		DeleteIAMKey{AccessKeyID: "AKIAEXAMPLE0000001"},
	}
	for _, r := range bad {
		if _, err := s.Commit(r); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("Commit(%+v) = %v, want ErrInvalidRecord", r, err)
		}
	}
}
