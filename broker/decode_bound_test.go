package broker

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// tagFlood is a tagged-field count of 2^32-1 as an unsigned varint, with nothing after it: the
// trick that made unpatched kmsg loop once per claimed tag after the input had run out.
var tagFlood = []byte{0xff, 0xff, 0xff, 0xff, 0x0f}

// saslAuthenticateFlood is the frame from the report (issue 10), without its size prefix: a
// SaslAuthenticate v2 request whose body is empty auth bytes followed by tagFlood.
func saslAuthenticateFlood() []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(apiKeySaslAuthenticate))
	b = binary.BigEndian.AppendUint16(b, 2)
	b = binary.BigEndian.AppendUint32(b, 1) // correlation id
	b = binary.BigEndian.AppendUint16(b, 0xffff)
	b = append(b, 0)    // request-header tags
	b = append(b, 0x01) // compact bytes: empty
	return append(b, tagFlood...)
}

// everyVersionTable serves every key kmsg knows at every version kmsg knows, so decoding is
// exercised for all of them whatever the broker's own table serves today.
func everyVersionTable() *handlerTable {
	t := &handlerTable{byKey: map[int16]*apiEntry{}}
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		if req := kmsg.RequestForKey(key); req != nil {
			t.byKey[key] = &apiEntry{key: key, min: 0, max: req.MaxVersion(), preAuth: true}
		}
	}
	return t
}

// decodeWithin parses frame and fails the test if the decode does not return within limit. An
// unbounded tag loop takes about a minute per frame; a bounded decode takes microseconds, so
// the limit only has to separate the two, not measure speed.
func decodeWithin(t *testing.T, table *handlerTable, frame []byte, limit time.Duration, what string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, _, err := parseRequest(frame, table, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("%s: decode still running after %v", what, limit)
		return nil
	}
}

func TestSaslAuthenticateTagFloodRefusedAtOnce(t *testing.T) {
	frame := saslAuthenticateFlood()
	for _, table := range []*handlerTable{newHandlerTable(&Server{}), everyVersionTable()} {
		err := decodeWithin(t, table, frame, 10*time.Second, "SaslAuthenticate v2 tag flood")
		if err == nil {
			t.Fatal("the tag flood decoded without error")
		}
	}
}

// TestTagFloodAtEveryPositionEveryFlexibleVersion builds, for every API key and every flexible
// version, a request whose every array holds one element (so nested structs and their tag
// sections are present), then cuts the body at each byte and appends a flood of claimed tags.
// Every cut must decode (or fail) at once: whichever tag section, top-level or nested in a
// struct inside an array, reads the flood must refuse it.
func TestTagFloodAtEveryPositionEveryFlexibleVersion(t *testing.T) {
	table := everyVersionTable()
	cases := 0
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			if !req.IsFlexible() {
				continue
			}
			fillOneOfEach(reflect.ValueOf(req).Elem(), 0)
			full := encodeRequest(req, 1, "flood")[4:]
			bodyStart := len(full) - len(req.AppendTo(nil))
			for cut := bodyStart; cut <= len(full); cut++ {
				frame := append(append([]byte(nil), full[:cut]...), tagFlood...)
				_ = decodeWithin(t, table, frame, 10*time.Second, fmt.Sprintf("key %d v%d cut at %d", key, v, cut))
				cases++
			}
		}
	}
	if cases < 1000 {
		t.Fatalf("only %d flood cases built; expected every flexible request of every key", cases)
	}
	t.Logf("%d flood cases decoded", cases)
}

// fillOneOfEach gives every slice of structs in v one element (recursively, to a small depth)
// and every string a value, so an encoded request contains each nested struct once.
func fillOneOfEach(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if !f.CanSet() || v.Type().Field(i).Name == "UnknownTags" {
				continue
			}
			fillOneOfEach(f, depth+1)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{1})
			return
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if d, ok := elem.Addr().Interface().(interface{ Default() }); ok {
			d.Default()
		}
		fillOneOfEach(elem, depth+1)
		v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), elem))
	case reflect.String:
		v.SetString("x")
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.String {
			s := "x"
			v.Set(reflect.ValueOf(&s))
		}
	}
}

// cpuTime is the CPU time this process has used so far (user + system).
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestTagFloodClosesConnections sends the report's frame to a SASL_PLAINTEXT listener before
// authenticating, and the same trick (the top-level tag count replaced by a flood) for every
// flexible API the broker serves to an authenticated PLAINTEXT connection. Each connection must
// be closed at once, the whole run must cost the broker far less CPU than one unbounded decode
// (about a minute), and a client on another connection must be served throughout.
func TestTagFloodClosesConnections(t *testing.T) {
	rec := &authRecorder{}
	sasl := saslBroker(t, rec, testMechanism{})
	plain := newTestBroker(t)
	bystander := dialRaw(t, plain.Addr)
	before := cpuTime(t)

	rc := dialRaw(t, sasl.Addr)
	frame := saslAuthenticateFlood()
	rc.writeBytes(binary.BigEndian.AppendUint32(nil, uint32(len(frame))))
	rc.writeBytes(frame)
	rc.expectClosed()

	floods := 0
	for _, e := range plain.table.sorted() {
		req := kmsg.RequestForKey(e.key)
		req.SetVersion(e.max)
		if !req.IsFlexible() {
			continue
		}
		full := encodeRequest(req, 7, "flood")
		// A default body ends with its own tag count (0): claim 2^32-1 tags there instead.
		full = append(full[:len(full)-1], tagFlood...)
		binary.BigEndian.PutUint32(full, uint32(len(full)-4))
		c := dialRaw(t, plain.Addr)
		c.writeBytes(full)
		c.expectClosed()
		metadataOK(t, bystander)
		floods++
	}
	if floods < 20 {
		t.Fatalf("only %d flexible APIs flooded", floods)
	}
	used := cpuTime(t) - before
	t.Logf("%d flood frames: process CPU time grew by %v", floods+1, used)
	if used > 5*time.Second {
		t.Fatalf("flood frames cost %v of CPU; a bounded decode costs microseconds", used)
	}
}
