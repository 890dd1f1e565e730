// Package kmsfake is a small local AWS KMS for tests: an HTTP server speaking the KMS JSON
// protocol (AWS JSON 1.1, X-Amz-Target: TrentService.<Operation>) well enough that the real
// aws-sdk-go-v2 KMS client works against it unchanged. It implements GenerateDataKey, Decrypt,
// Encrypt, ReEncrypt and DescribeKey for symmetric keys the test creates, enforces KMS's input
// limits and its exact-match rule for encryption contexts, answers with KMS's error shapes, and
// can be stopped and restarted on the same address, told to fail or throttle, and inspected.
//
// It is test support only: its "ciphertext blobs" are AES-GCM under keys held in memory.
package kmsfake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is a fake KMS endpoint.
type Server struct {
	// AccessKeyID, when set, must appear in every request's SigV4 Authorization header.
	AccessKeyID string

	mu       sync.Mutex
	addr     string
	srv      *http.Server
	keys     map[string][]byte // ARN -> key material
	aliases  map[string]string // alias/name -> ARN
	failNext []string          // error types for the next requests
	calls    map[string]int
	contexts []map[string]string
}

// KMS limits enforced here (AWS KMS API reference).
const (
	maxPlaintext     = 4096
	maxCiphertext    = 6144
	maxContextSize   = 8192 // total bytes of keys and values
	region           = "us-east-1"
	account          = "111122223333"
	blobFormatMarker = 0xB1
)

// Start listens on 127.0.0.1:0 and serves.
func Start() (*Server, error) {
	s := &Server{keys: map[string][]byte{}, aliases: map[string]string{}, calls: map[string]int{}}
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

// URL is the endpoint to give the SDK (BaseEndpoint).
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

// Restart serves again on the same address after Stop.
func (s *Server) Restart() error {
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger briefly
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			s.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// CreateKey makes a symmetric key and returns its ARN; alias, if not empty, names it too
// ("alias/bulwark").
func (s *Server) CreateKey(alias string) string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	arn := fmt.Sprintf("arn:aws:kms:%s:%s:key/%x-%x-%x-%x-%x", region, account, id[:4], id[4:6], id[6:8], id[8:10], id[10:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[arn] = key
	if alias != "" {
		s.aliases[alias] = arn
	}
	return arn
}

// FailNext makes the next n requests fail with the given KMS error type
// (e.g. "KMSInternalException", "ThrottlingException").
func (s *Server) FailNext(n int, errType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, errType)
	}
}

// Calls returns how many requests each operation received.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Contexts returns every encryption context received, in order.
func (s *Server) Contexts() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.contexts)
}

// kmsError is KMS's error body.
type kmsError struct {
	status int
	Type   string `json:"__type"`
	Msg    string `json:"message"`
}

func (e *kmsError) Error() string { return e.Type + ": " + e.Msg }

func fail(status int, typ, format string, args ...any) *kmsError {
	return &kmsError{status: status, Type: typ, Msg: fmt.Sprintf(format, args...)}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	var resp any
	var err *kmsError
	switch {
	case r.Method != http.MethodPost || !ok:
		err = fail(400, "UnknownOperationException", "not a KMS request")
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1"):
		err = fail(400, "SerializationException", "content type must be application/x-amz-json-1.1")
	case !s.signed(r):
		err = fail(400, "IncompleteSignatureException", "missing or malformed SigV4 Authorization header")
	default:
		body, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rerr != nil {
			err = fail(400, "SerializationException", "read body")
			break
		}
		s.mu.Lock()
		s.calls[op]++
		var injected string
		if len(s.failNext) > 0 {
			injected, s.failNext = s.failNext[0], s.failNext[1:]
		}
		s.mu.Unlock()
		if injected != "" {
			status := 500
			if injected == "ThrottlingException" {
				status = 400
			}
			err = fail(status, injected, "injected failure")
			break
		}
		resp, err = s.dispatch(op, body)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if err != nil {
		w.Header().Set("X-Amzn-ErrorType", err.Type)
		w.WriteHeader(err.status)
		_ = json.NewEncoder(w).Encode(err)
		return
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// signed checks that the request carries a SigV4 Authorization header for the expected key.
func (s *Server) signed(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=") || !strings.Contains(a, "/kms/aws4_request") || !strings.Contains(a, "Signature=") {
		return false
	}
	return s.AccessKeyID == "" || strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential="+s.AccessKeyID+"/")
}

type request struct {
	KeyID                        string            `json:"KeyId"`
	KeySpec                      string            `json:"KeySpec"`
	NumberOfBytes                *int              `json:"NumberOfBytes"`
	EncryptionContext            map[string]string `json:"EncryptionContext"`
	CiphertextBlob               []byte            `json:"CiphertextBlob"`
	Plaintext                    []byte            `json:"Plaintext"`
	SourceEncryptionContext      map[string]string `json:"SourceEncryptionContext"`
	DestinationKeyID             string            `json:"DestinationKeyId"`
	DestinationEncryptionContext map[string]string `json:"DestinationEncryptionContext"`
}

func (s *Server) dispatch(op string, body []byte) (any, *kmsError) {
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail(400, "SerializationException", "%v", err)
	}
	switch op {
	case "GenerateDataKey":
		return s.generateDataKey(req)
	case "Encrypt":
		if len(req.Plaintext) == 0 || len(req.Plaintext) > maxPlaintext {
			return nil, fail(400, "ValidationException", "Plaintext must be 1 to %d bytes", maxPlaintext)
		}
		return s.encrypt(req.KeyID, req.Plaintext, req.EncryptionContext)
	case "Decrypt":
		arn, pt, err := s.decrypt(req.CiphertextBlob, req.EncryptionContext, req.KeyID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"KeyId": arn, "Plaintext": pt, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
	case "ReEncrypt":
		arn, pt, err := s.decrypt(req.CiphertextBlob, req.SourceEncryptionContext, "")
		if err != nil {
			return nil, err
		}
		out, err := s.encrypt(req.DestinationKeyID, pt, req.DestinationEncryptionContext)
		if err != nil {
			return nil, err
		}
		out["SourceKeyId"] = arn
		return out, nil
	case "DescribeKey":
		arn, err := s.resolve(req.KeyID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"KeyMetadata": map[string]any{"Arn": arn, "KeyId": arn[strings.LastIndex(arn, "/")+1:],
			"Enabled": true, "KeyState": "Enabled", "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}}, nil
	}
	return nil, fail(400, "UnknownOperationException", "operation %s is not implemented by kmsfake", op)
}

func (s *Server) generateDataKey(req request) (any, *kmsError) {
	n := 0
	switch {
	case req.KeySpec != "" && req.NumberOfBytes != nil:
		return nil, fail(400, "ValidationException", "specify either KeySpec or NumberOfBytes")
	case req.KeySpec == "AES_256":
		n = 32
	case req.KeySpec == "AES_128":
		n = 16
	case req.KeySpec != "":
		return nil, fail(400, "ValidationException", "KeySpec must be AES_256 or AES_128")
	case req.NumberOfBytes != nil && *req.NumberOfBytes >= 1 && *req.NumberOfBytes <= 1024:
		n = *req.NumberOfBytes
	default:
		return nil, fail(400, "ValidationException", "NumberOfBytes must be 1 to 1024")
	}
	pt := make([]byte, n)
	_, _ = rand.Read(pt)
	out, err := s.encrypt(req.KeyID, pt, req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	out["Plaintext"] = pt
	return out, nil
}

func (s *Server) resolve(id string) (string, *kmsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if arn, ok := s.aliases[id]; ok {
		return arn, nil
	}
	for arn := range s.keys {
		if id == arn || strings.HasSuffix(arn, "/"+id) {
			return arn, nil
		}
	}
	return "", fail(400, "NotFoundException", "key %q does not exist", id)
}

func checkContext(ec map[string]string) *kmsError {
	size := 0
	for k, v := range ec {
		size += len(k) + len(v)
	}
	if size > maxContextSize {
		return fail(400, "ValidationException", "encryption context exceeds %d bytes", maxContextSize)
	}
	return nil
}

// contextAAD encodes a context canonically for the GCM additional data.
func contextAAD(ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

// encrypt makes a blob: [marker][uint16 len(arn)][arn][12-byte nonce][GCM ciphertext].
func (s *Server) encrypt(keyID string, pt []byte, ec map[string]string) (map[string]any, *kmsError) {
	if err := checkContext(ec); err != nil {
		return nil, err
	}
	arn, err := s.resolve(keyID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	key := s.keys[arn]
	s.contexts = append(s.contexts, ec)
	s.mu.Unlock()
	gcm := newGCM(key)
	blob := []byte{blobFormatMarker}
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(arn)))
	blob = append(blob, arn...)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	blob = append(blob, nonce...)
	blob = gcm.Seal(blob, nonce, pt, contextAAD(ec))
	return map[string]any{"CiphertextBlob": blob, "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (s *Server) decrypt(blob []byte, ec map[string]string, keyID string) (string, []byte, *kmsError) {
	if len(blob) < 1 || len(blob) > maxCiphertext {
		return "", nil, fail(400, "ValidationException", "CiphertextBlob must be 1 to %d bytes", maxCiphertext)
	}
	bad := fail(400, "InvalidCiphertextException", "")
	if blob[0] != blobFormatMarker || len(blob) < 3 {
		return "", nil, bad
	}
	n := int(binary.BigEndian.Uint16(blob[1:]))
	if len(blob) < 3+n+12+16 {
		return "", nil, bad
	}
	arn := string(blob[3 : 3+n])
	s.mu.Lock()
	key, ok := s.keys[arn]
	s.contexts = append(s.contexts, ec)
	s.mu.Unlock()
	if !ok {
		return "", nil, bad
	}
	if keyID != "" {
		if want, err := s.resolve(keyID); err != nil || want != arn {
			return "", nil, fail(400, "IncorrectKeyException", "the key ID in the request does not identify the key that encrypted the ciphertext")
		}
	}
	gcm := newGCM(key)
	rest := blob[3+n:]
	pt, err := gcm.Open(nil, rest[:12], rest[12:], contextAAD(ec))
	if err != nil {
		return "", nil, bad // KMS says nothing more when the context differs
	}
	return arn, pt, nil
}

func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(errors.New("kmsfake: bad key")) // keys are made here, always 32 bytes
	}
	gcm, _ := cipher.NewGCM(block)
	return gcm
}
