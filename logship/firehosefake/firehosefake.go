// Package firehosefake is a small local Amazon Data Firehose for tests: an HTTP server speaking
// the service's JSON protocol (AWS JSON 1.1, X-Amz-Target: Firehose_20150804.<Operation>) well
// enough that the real aws-sdk-go-v2 client works against it unchanged. It implements
// PutRecordBatch with the service's limits (500 records, 4 MiB per request, 1,000 KiB per
// record), answers with its error shapes, can fail a chosen share of the records of a batch
// (FailedPutCount with per-record ServiceUnavailableException, as Firehose does under load),
// and can be stopped and restarted on the same address.
//
// It is test support only.
package firehosefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// PutRecordBatch limits.
const (
	MaxRecords     = 500
	MaxBatchBytes  = 4 << 20
	MaxRecordBytes = 1000 << 10
)

// Server is a fake Firehose endpoint with one or more delivery streams.
type Server struct {
	mu       sync.Mutex
	addr     string
	srv      *http.Server
	streams  map[string][][]byte
	failEach int // fail every failEach-th record of each batch (0: none)
	calls    int
}

// Start listens on 127.0.0.1:0 and serves the named delivery streams.
func Start(streams ...string) (*Server, error) {
	s := &Server{streams: map[string][][]byte{}}
	for _, n := range streams {
		s.streams[n] = nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// URL is the endpoint to give the SDK.
func (s *Server) URL() string { return "http://" + s.addr }

// Stop closes the listener and every connection: an outage.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart serves again on the same address.
func (s *Server) Restart() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

// FailEvery makes every n-th record of each batch fail (0 stops it).
func (s *Server) FailEvery(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failEach = n
}

// Records returns what a delivery stream received, in order.
func (s *Server) Records(stream string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.streams[stream]...)
}

// Calls returns how many PutRecordBatch requests were answered.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func writeErr(w http.ResponseWriter, status int, typ, format string, args ...any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": fmt.Sprintf(format, args...)})
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "Firehose_20150804."); op != "PutRecordBatch" {
		writeErr(w, 400, "UnknownOperationException", "unknown operation %q", op)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*MaxBatchBytes))
	if err != nil {
		writeErr(w, 400, "SerializationException", "%v", err)
		return
	}
	var in struct {
		DeliveryStreamName string `json:"DeliveryStreamName"`
		Records            []struct {
			Data []byte `json:"Data"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeErr(w, 400, "SerializationException", "%v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if _, ok := s.streams[in.DeliveryStreamName]; !ok {
		writeErr(w, 400, "ResourceNotFoundException", "Firehose %s not found.", in.DeliveryStreamName)
		return
	}
	if len(in.Records) == 0 || len(in.Records) > MaxRecords {
		writeErr(w, 400, "InvalidArgumentException", "%d records: between 1 and %d allowed", len(in.Records), MaxRecords)
		return
	}
	total := 0
	for i, rec := range in.Records {
		if len(rec.Data) > MaxRecordBytes {
			writeErr(w, 400, "InvalidArgumentException", "record %d of %d bytes exceeds %d", i, len(rec.Data), MaxRecordBytes)
			return
		}
		total += len(rec.Data)
	}
	if total > MaxBatchBytes {
		writeErr(w, 400, "InvalidArgumentException", "batch of %d bytes exceeds %d", total, MaxBatchBytes)
		return
	}
	type result struct {
		RecordID     string `json:"RecordId,omitempty"`
		ErrorCode    string `json:"ErrorCode,omitempty"`
		ErrorMessage string `json:"ErrorMessage,omitempty"`
	}
	out := struct {
		FailedPutCount   int      `json:"FailedPutCount"`
		Encrypted        bool     `json:"Encrypted"`
		RequestResponses []result `json:"RequestResponses"`
	}{}
	for i, rec := range in.Records {
		if s.failEach > 0 && (i+1)%s.failEach == 0 {
			out.FailedPutCount++
			out.RequestResponses = append(out.RequestResponses, result{ErrorCode: "ServiceUnavailableException", ErrorMessage: "Slow down."})
			continue
		}
		s.streams[in.DeliveryStreamName] = append(s.streams[in.DeliveryStreamName], rec.Data)
		out.RequestResponses = append(out.RequestResponses, result{RecordID: fmt.Sprintf("rec-%d-%d", s.calls, i)})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}
