package envelope

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-kafka/bulwark/broker/keys"
)

func newLocal(t testing.TB) *keys.Local {
	t.Helper()
	l, err := keys.OpenLocal(filepath.Join(t.TempDir(), "ring"), keys.LocalOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var segCtx = keys.EncryptionContext{"bulwark:cluster": "c1", "bulwark:topic": "orders", "bulwark:partition": "0", "bulwark:file": "00000000000000000000.log"}

func TestSealOpenAndTamper(t *testing.T) {
	ctx := context.Background()
	p := newLocal(t)
	h, s, err := New(ctx, p, KindSegment, segCtx)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Encode()
	if err != nil || len(enc) != HeaderSize {
		t.Fatalf("encode: %d %v", len(enc), err)
	}
	// A file: header then two frames, each bound to its position and offsets.
	a := s.Seal(nil, []byte("first batch: secret payload"), HeaderSize, []byte("offsets 0-4"))
	posB := int64(HeaderSize + len(a))
	bFrame := s.Seal(nil, []byte("second batch"), posB, []byte("offsets 5-9"))
	if bytes.Contains(a, []byte("secret")) {
		t.Fatal("plaintext in the sealed frame")
	}
	if n, _ := FrameLen(a); n != len(a) || len(a) != len("first batch: secret payload")+FrameOverhead {
		t.Fatalf("frame length %d of %d", n, len(a))
	}

	// Reopen from the header alone, as after a restart.
	h2, err := DecodeHeader(enc)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, p, h2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Open(nil, a, HeaderSize, []byte("offsets 0-4"))
	if err != nil || string(got) != "first batch: secret payload" {
		t.Fatalf("open: %q %v", got, err)
	}

	flipped := bytes.Clone(a)
	flipped[20] ^= 0x40
	other, os2, _ := New(ctx, p, KindSegment, segCtx)
	_ = other
	foreign := os2.Seal(nil, []byte("first batch: secret payload"), HeaderSize, []byte("offsets 0-4"))
	cases := map[string]func() error{
		"flipped byte":       func() error { _, err := s2.Open(nil, flipped, HeaderSize, []byte("offsets 0-4")); return err },
		"swapped position":   func() error { _, err := s2.Open(nil, bFrame, HeaderSize, []byte("offsets 5-9")); return err },
		"other offsets":      func() error { _, err := s2.Open(nil, a, HeaderSize, []byte("offsets 5-9")); return err },
		"other file's frame": func() error { _, err := s2.Open(nil, foreign, HeaderSize, []byte("offsets 0-4")); return err },
		"truncated frame":    func() error { _, err := s2.Open(nil, a[:len(a)-3], HeaderSize, []byte("offsets 0-4")); return err },
	}
	for name, try := range cases {
		if err := try(); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v, want ErrTampered", name, err)
		}
	}
	// The wrapped key only opens for this file: the context carries the file id.
	moved := h2
	moved.FileID = [16]byte{1}
	moved.Context = keys.EncryptionContext{}
	for k, v := range h2.Context {
		moved.Context[k] = v
	}
	moved.Context["bulwark:file"] = "00000000000000000099.log"
	if _, err := Open(ctx, p, moved); !errors.Is(err, keys.ErrWrongKey) {
		t.Fatalf("header moved to another file: %v", err)
	}
	enc[100] ^= 1
	if _, err := DecodeHeader(enc); !errors.Is(err, ErrTampered) {
		t.Fatalf("edited header: %v", err)
	}
	if _, err := DecodeHeader(make([]byte, HeaderSize)); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("zero header: %v", err)
	}
	s.Close()
}

func TestRewrapAndShred(t *testing.T) {
	ctx := context.Background()
	p := newLocal(t)
	h, s, err := New(ctx, p, KindMetadataLog, keys.EncryptionContext{"bulwark:file": "meta-0.log"})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := h.Encode()
	frame := s.Seal(nil, []byte("scram keys"), HeaderSize, nil)
	path := filepath.Join(t.TempDir(), "meta-0.log")
	if err := os.WriteFile(path, append(enc, frame...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := Rewrap(ctx, path, p); err != nil {
		t.Fatal(err)
	}
	h2, err := ReadHeader(path)
	if err != nil || !strings.HasPrefix(h2.Wrapped.KeyID, "local:2:") || h2.FileID != h.FileID {
		t.Fatalf("after rewrap: %+v %v", h2.Wrapped, err)
	}
	data, _ := os.ReadFile(path)
	s2, err := Open(ctx, p, h2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Open(nil, data[HeaderSize:], HeaderSize, nil); err != nil || string(got) != "scram keys" {
		t.Fatalf("data after rewrap: %q %v", got, err)
	}
	if err := Shred(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("shredded file still there: %v", err)
	}
}

func FuzzDecodeHeader(f *testing.F) {
	p := newLocal(f)
	h, _, _ := New(context.Background(), p, KindSegment, segCtx)
	enc, _ := h.Encode()
	f.Add(enc)
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			return
		}
		if _, err := h.Encode(); err != nil {
			t.Fatalf("decoded header does not encode: %v", err)
		}
	})
}

func FuzzOpenFrame(f *testing.F) {
	p := newLocal(f)
	_, s, _ := New(context.Background(), p, KindSegment, segCtx)
	f.Add(s.Seal(nil, []byte("batch"), HeaderSize, nil), int64(HeaderSize))
	f.Fuzz(func(t *testing.T, frame []byte, pos int64) {
		if out, err := s.Open(nil, frame, pos, nil); err == nil && string(out) != "batch" {
			t.Fatalf("forged frame opened: %q", out)
		}
	})
}

func BenchmarkSeal1MiB(b *testing.B) {
	_, s, _ := New(context.Background(), newLocal(b), KindSegment, segCtx)
	buf := make([]byte, 1<<20)
	out := make([]byte, 0, len(buf)+FrameOverhead)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		out = s.Seal(out[:0], buf, HeaderSize, nil)
	}
}
