package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type callLog struct {
	mu    sync.Mutex
	calls []Call
}

func (c *callLog) OnKeyCall(call Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

var ctxA = EncryptionContext{"bulwark:topic": "orders", "bulwark:partition": "0", "bulwark:file": "00000000000000000000.log"}

func TestLocalKeyringLifecycle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ring", "bulwark.keyring")
	obs := &callLog{}
	l, err := OpenLocal(path, LocalOptions{Create: true, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring mode %v", fi.Mode().Perm())
	}
	dk, err := l.GenerateDataKey(ctx, ctxA)
	if err != nil || len(dk.Plaintext) != DataKeySize || !strings.HasPrefix(dk.Wrapped.KeyID, "local:1:") {
		t.Fatalf("generate: %+v %v", dk.Wrapped, err)
	}
	if bytes.Contains(dk.Wrapped.Ciphertext, dk.Plaintext) {
		t.Fatal("wrapped key contains the plaintext key")
	}
	got, err := l.Decrypt(ctx, dk.Wrapped, ctxA)
	if err != nil || !bytes.Equal(got, dk.Plaintext) {
		t.Fatalf("decrypt: %v", err)
	}
	// Another context, an edited ciphertext, another provider: all ErrWrongKey.
	other := EncryptionContext{"bulwark:topic": "orders", "bulwark:partition": "1", "bulwark:file": "00000000000000000000.log"}
	edited := dk.Wrapped
	edited.Ciphertext = bytes.Clone(edited.Ciphertext)
	edited.Ciphertext[20] ^= 1
	for name, try := range map[string]func() error{
		"context":  func() error { _, err := l.Decrypt(ctx, dk.Wrapped, other); return err },
		"edited":   func() error { _, err := l.Decrypt(ctx, edited, ctxA); return err },
		"provider": func() error { w := dk.Wrapped; w.Provider = "aws-kms"; _, err := l.Decrypt(ctx, w, ctxA); return err },
	} {
		if err := try(); !errors.Is(err, ErrWrongKey) {
			t.Errorf("%s: %v, want ErrWrongKey", name, err)
		}
	}

	// Rotate: new keys under version 2, old ones still open; rewrap moves them to version 2.
	if v, err := l.Rotate(); err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	dk2, _ := l.GenerateDataKey(ctx, ctxA)
	if !strings.HasPrefix(dk2.Wrapped.KeyID, "local:2:") {
		t.Fatalf("after rotate, key id %s", dk2.Wrapped.KeyID)
	}
	rw, err := l.Rewrap(ctx, dk.Wrapped, ctxA)
	if err != nil || !strings.HasPrefix(rw.KeyID, "local:2:") {
		t.Fatalf("rewrap: %+v %v", rw, err)
	}
	if got, err := l.Decrypt(ctx, rw, ctxA); err != nil || !bytes.Equal(got, dk.Plaintext) {
		t.Fatalf("rewrapped key: %v", err)
	}

	// Reopen from disk: both versions are there, version 2 current.
	l2, err := OpenLocal(path, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vs := l2.Versions()
	if len(vs) != 2 || !vs[1].Current || vs[0].Fingerprint == vs[1].Fingerprint {
		t.Fatalf("versions %+v", vs)
	}
	if got, err := l2.Decrypt(ctx, dk.Wrapped, ctxA); err != nil || !bytes.Equal(got, dk.Plaintext) {
		t.Fatalf("decrypt after reopen: %v", err)
	}
	if len(obs.calls) < 5 || obs.calls[0].Op != "GenerateDataKey" {
		t.Fatalf("observer saw %+v", obs.calls)
	}
	l.Close()
}

func TestLocalKeyringRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	if _, err := OpenLocal(path, LocalOptions{}); err == nil {
		t.Fatal("opened a missing keyring without Create")
	}
	l, err := OpenLocal(path, LocalOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := l.GenerateDataKey(context.Background(), ctxA)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLocal(path, LocalOptions{}); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable keyring: %v", err)
	}
	_ = os.Chmod(path, 0o600)
	data, _ := os.ReadFile(path)
	damaged := bytes.Replace(data, []byte(`"current": 1`), []byte(`"current": 2`), 1)
	_ = os.WriteFile(path, damaged, 0o600)
	if _, err := OpenLocal(path, LocalOptions{}); !errors.Is(err, ErrCorruptKeyring) {
		t.Fatalf("damaged keyring: %v", err)
	}
	// A different keyring is a clear wrong-key error naming the fingerprints, not garbage.
	other, _ := OpenLocal(filepath.Join(dir, "other"), LocalOptions{Create: true})
	if _, err := other.Decrypt(context.Background(), dk.Wrapped, ctxA); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("other keyring: %v", err)
	}
	// A master key from the environment: one version, cannot rotate.
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	env, err := LocalFromKey(key, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Rotate(); err == nil {
		t.Fatal("rotated a supplied key")
	}
	if _, err := LocalFromKey("c2hvcnQ=", LocalOptions{}); err == nil {
		t.Fatal("short master key accepted")
	}
}

func FuzzKeyringDecode(f *testing.F) {
	l, _ := OpenLocal(filepath.Join(f.TempDir(), "k"), LocalOptions{Create: true})
	data, _ := os.ReadFile(l.path)
	f.Add(data)
	f.Add([]byte(`{"format":"bulwark-keyring-v1","current":1,"versions":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var x Local
		if err := x.decode(b); err == nil && x.version(x.current).Key == nil {
			t.Fatal("decoded a keyring without its current key")
		}
	})
}

func FuzzLocalUnwrap(f *testing.F) {
	l, _ := OpenLocal(filepath.Join(f.TempDir(), "k"), LocalOptions{Create: true})
	dk, _ := l.GenerateDataKey(context.Background(), ctxA)
	f.Add(dk.Wrapped.KeyID, dk.Wrapped.Ciphertext)
	f.Fuzz(func(t *testing.T, id string, c []byte) {
		_, _ = l.Decrypt(context.Background(), Wrapped{Provider: LocalProvider, KeyID: id, Ciphertext: c}, ctxA)
	})
}

func BenchmarkLocalGenerateDecrypt(b *testing.B) {
	l, _ := OpenLocal(filepath.Join(b.TempDir(), "k"), LocalOptions{Create: true})
	ctx := context.Background()
	for b.Loop() {
		dk, _ := l.GenerateDataKey(ctx, ctxA)
		if _, err := l.Decrypt(ctx, dk.Wrapped, ctxA); err != nil {
			b.Fatal(err)
		}
	}
}
