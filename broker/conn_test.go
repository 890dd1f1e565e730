package broker

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

func TestApiVersionsAdvertisesHandlerTable(t *testing.T) {
	b := newTestBroker(t)
	rc := dialRaw(t, b.Addr)
	for _, v := range []int16{0, 1, 2, 3, 4} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "bulwark-test", "1.0"
		resp := rc.roundTrip(req).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		got := map[int16][2]int16{}
		for _, k := range resp.ApiKeys {
			got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		for key, want := range map[int16][2]int16{0: {0, 12}, 1: {4, 17}, 2: {1, 10}, 3: {0, 12}, 18: {0, 4}} {
			if got[key] != want {
				t.Errorf("v%d: key %d versions %v, want %v", v, key, got[key], want)
			}
		}
		if len(got) != len(b.table.byKey) {
			t.Errorf("v%d: %d keys advertised, table has %d", v, len(got), len(b.table.byKey))
		}
	}
}

func TestApiVersionsUnknownVersionGetsV0Answer(t *testing.T) {
	b := newTestBroker(t)
	rc := dialRaw(t, b.Addr)
	// A future ApiVersions (v99): header v2, body the broker cannot know.
	frame := []byte{0, 0, 0, 0, 0, 18, 0, 99, 0, 0, 0, 7, 0, 0, 0, 0xAA, 0xBB}
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	rc.writeBytes(frame)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	rc.recv(7, resp)
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error %d, want UNSUPPORTED_VERSION", resp.ErrorCode)
	}
	if len(resp.ApiKeys) != 1 || resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MaxVersion != 4 {
		t.Fatalf("api keys %+v, want only ApiVersions 0-4", resp.ApiKeys)
	}
}

func TestApiVersionsBadClientSoftwareName(t *testing.T) {
	b := newTestBroker(t)
	rc := dialRaw(t, b.Addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "bad name!", "1"
	if resp := rc.roundTrip(req).(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("error %d, want INVALID_REQUEST", resp.ErrorCode)
	}
}

func TestBadFramesCloseTheConnection(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.SocketRequestMaxBytes = 1 << 20 }))
	cases := map[string][]byte{
		"unknown api key":     rawHeader(999, 0, 0),
		"unsupported version": rawHeader(1, 3, 0), // Fetch v3: removed in Kafka 4.0
		"negative size":       {0xff, 0xff, 0xff, 0xfe},
		"over the size cap":   {0x10, 0, 0, 0},
		"truncated header":    {0, 0, 0, 3, 0, 3, 0},
		"malformed body":      withLength(append(rawHeader(3, 1, 0), 0x7f, 0xff, 0xff, 0xff)), // topic array of 2^31-1
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, b.Addr)
			rc.writeBytes(frame)
			rc.expectClosed()
		})
	}
	// The broker is still healthy afterwards.
	rc := dialRaw(t, b.Addr)
	rc.roundTrip(kmsg.NewPtrApiVersionsRequest())
}

// rawHeader builds a frame holding only a v1 request header plus extra zero bytes of body.
func rawHeader(key, version int16, extra int) []byte {
	b := make([]byte, 4, 16)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = append(b, make([]byte, extra)...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// withLength rewrites a frame's size prefix after bytes were appended to it.
func withLength(frame []byte) []byte {
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	return frame
}

func TestIdleConnectionIsClosed(t *testing.T) {
	b := newTestBroker(t, withConfig(func(c *config.Config) { c.ConnectionsMaxIdle = 300 * time.Millisecond }))
	rc := dialRaw(t, b.Addr)
	rc.roundTrip(kmsg.NewPtrApiVersionsRequest())
	rc.expectClosed()
}

// TestPreAuthGate drives a connection that has not authenticated (as on a SASL listener): only
// ApiVersions is served, anything else closes it, and the small pre-auth frame cap applies.
func TestPreAuthGate(t *testing.T) {
	b := newTestBroker(t)
	unauth := func() *rawConn {
		client, server := net.Pipe()
		bl := &boundListener{cfg: config.Listener{Name: "SASL_TEST"},
			auth: &listenerAuth{sec: config.ListenerSecurity{Name: "SASL_TEST", Protocol: "SASL_PLAINTEXT"}}}
		c := newConn(b.Server, server, bl)
		go c.serve()
		t.Cleanup(func() { client.Close() })
		return &rawConn{t: t, nc: client}
	}

	rc := unauth()
	if resp := rc.roundTrip(kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions before auth: error %d", resp.ErrorCode)
	}
	meta := kmsg.NewPtrMetadataRequest()
	meta.SetVersion(9)
	rc.send(meta)
	rc.expectClosed()

	rc = unauth()
	big := make([]byte, 4)
	binary.BigEndian.PutUint32(big, uint32(b.cfg.PreAuthMaxFrameBytes+1))
	go func() { _, _ = rc.nc.Write(big) }()
	rc.expectClosed()
}
