package iam

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
)

// iamService is the SigV4 service name MSK IAM signatures are scoped to.
const iamService = "kafka-cluster"

// maxSigV4Expires is SigV4's longest presigned validity (7 days).
const maxSigV4Expires = 7 * 24 * time.Hour

// Key is an IAM-style access key. SigV4 derives its signing key from the secret itself, so the
// secret must be kept (the broker keeps it in its encrypted metadata log).
type Key struct {
	AccessKeyID  string
	Secret       string
	PrincipalARN string
	// Expiry is when the key stops working; zero means never.
	Expiry time.Time
}

// Verifier checks the presigned-URL-style SigV4 signatures that AWS_MSK_IAM payloads and MSK
// OAUTHBEARER tokens carry. It is safe for concurrent use.
type Verifier struct {
	// Region is the region signatures must be scoped to.
	Region string
	// MaxSkew is how far a signature's date may be ahead of the clock.
	MaxSkew time.Duration
	// Hosts are the names a signature may be for, in lower case: the broker's advertised hosts
	// and any extra names (a load balancer).
	Hosts map[string]bool
	// Lookup finds an access key by id.
	Lookup func(accessKeyID string) (Key, bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// signedRequest is what a signature covers: the query parameters by their canonical names
// (without X-Amz-Signature) and the host.
type signedRequest struct {
	params    map[string]string
	host      string
	signature string
}

// verified is a checked signature: the key that made it and when the signature itself expires.
type verified struct {
	key     Key
	expires time.Time
}

// verify checks a signed request. Its error is the precise reason, for logs and audit only.
func (v *Verifier) verify(r signedRequest, extraHost string) (verified, string, error) {
	p := r.params
	cred := p["X-Amz-Credential"]
	akid, scope, _ := strings.Cut(cred, "/")
	fail := func(format string, args ...any) (verified, string, error) {
		return verified{}, akid, fmt.Errorf(format, args...)
	}
	switch {
	case p["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
		return fail("unsupported signing algorithm %q", p["X-Amz-Algorithm"])
	case p["Action"] != iamService+":Connect":
		return fail("action %q is not kafka-cluster:Connect", p["Action"])
	case p["X-Amz-SignedHeaders"] != "host":
		return fail("signed headers %q are not \"host\"", p["X-Amz-SignedHeaders"])
	}
	date, err := time.Parse("20060102T150405Z", p["X-Amz-Date"])
	if err != nil {
		return fail("malformed X-Amz-Date")
	}
	parts := strings.Split(scope, "/")
	switch {
	case len(parts) != 4 || parts[3] != "aws4_request":
		return fail("malformed credential scope %q", scope)
	case parts[0] != p["X-Amz-Date"][:8]:
		return fail("credential scope date %s differs from the request date", parts[0])
	case parts[1] != v.Region:
		return fail("credential scope region %q is not %q", parts[1], v.Region)
	case parts[2] != iamService:
		return fail("credential scope service %q is not %s", parts[2], iamService)
	}
	secs, err := strconv.ParseInt(p["X-Amz-Expires"], 10, 64)
	if err != nil || secs <= 0 || time.Duration(secs)*time.Second > maxSigV4Expires {
		return fail("malformed X-Amz-Expires %q", p["X-Amz-Expires"])
	}
	expires := date.Add(time.Duration(secs) * time.Second)
	now := v.now()
	switch {
	case date.After(now.Add(v.MaxSkew)):
		return fail("request date %s is ahead of the broker clock by more than the allowed skew", p["X-Amz-Date"])
	case now.After(expires):
		return fail("signature expired at %s", expires.Format(time.RFC3339))
	}
	host := strings.ToLower(r.host)
	if !v.Hosts[host] && host != extraHost {
		return fail("host %q is not a name of this broker", r.host)
	}
	key, ok := v.Lookup(akid)
	if !ok {
		return fail("unknown access key")
	}
	if !key.Expiry.IsZero() && !now.Before(key.Expiry) {
		return fail("access key expired at %s", key.Expiry.Format(time.RFC3339))
	}
	want := v.sign(key.Secret, p, r.host, parts[0])
	got, err := hex.DecodeString(r.signature)
	if err != nil || subtle.ConstantTimeCompare(got, want) != 1 {
		return fail("signature mismatch")
	}
	return verified{key: key, expires: expires}, akid, nil
}

// sign computes the SigV4 signature of a presigned GET / request for host.
func (v *Verifier) sign(secret string, params map[string]string, host, day string) []byte {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return uriEncode(names[i]) < uriEncode(names[j]) })
	var q strings.Builder
	for i, k := range names {
		if i > 0 {
			q.WriteByte('&')
		}
		q.WriteString(uriEncode(k) + "=" + uriEncode(params[k]))
	}
	const emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	canonical := "GET\n/\n" + q.String() + "\nhost:" + host + "\n\nhost\n" + emptyPayload
	sum := sha256.Sum256([]byte(canonical))
	scope := day + "/" + v.Region + "/" + iamService + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + params["X-Amz-Date"] + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := hmacSum(sha256.New, []byte("AWS4"+secret), []byte(day))
	for _, s := range []string{v.Region, iamService, "aws4_request"} {
		k = hmacSum(sha256.New, k, []byte(s))
	}
	return hmacSum(sha256.New, k, []byte(toSign))
}

// uriEncode is SigV4's URI encoding: everything but A-Z a-z 0-9 - . _ ~ as %XX, upper-case hex.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// mskIAMParams maps the AWS_MSK_IAM payload's lower-case keys to the query names they were
// signed under.
var mskIAMParams = map[string]string{
	"action":               "Action",
	"x-amz-algorithm":      "X-Amz-Algorithm",
	"x-amz-credential":     "X-Amz-Credential",
	"x-amz-date":           "X-Amz-Date",
	"x-amz-expires":        "X-Amz-Expires",
	"x-amz-security-token": "X-Amz-Security-Token",
	"x-amz-signedheaders":  "X-Amz-SignedHeaders",
}

// mskIAMMechanism is AWS_MSK_IAM: one JSON payload, answered with MSK's JSON on success.
type mskIAMMechanism struct{ v *Verifier }

// NewMSKIAM returns the AWS_MSK_IAM mechanism.
func NewMSKIAM(v *Verifier) auth.Mechanism { return mskIAMMechanism{v: v} }

func (mskIAMMechanism) Name() string { return "AWS_MSK_IAM" }

func (m mskIAMMechanism) Start(auth.ConnInfo) auth.Session { return &iamSession{v: m.v} }

type iamSession struct {
	v         *Verifier
	principal auth.Principal
	expiry    time.Time
	done      bool
}

// maxIAMPayload bounds an AWS_MSK_IAM payload or OAUTHBEARER message (a session token makes them
// a few KiB).
const maxIAMPayload = 16 << 10

func (s *iamSession) Step(msg []byte) ([]byte, bool, error) {
	if s.done {
		return nil, false, auth.ErrUnexpectedMessage
	}
	s.done = true
	if len(msg) > maxIAMPayload {
		return nil, false, auth.Fail("AWS_MSK_IAM", "", "payload too long", nil)
	}
	var payload map[string]string
	if err := json.Unmarshal(msg, &payload); err != nil {
		return nil, false, auth.Fail("AWS_MSK_IAM", "", "payload is not a JSON object of strings", err)
	}
	if payload["version"] != "2020_10_22" {
		return nil, false, auth.Fail("AWS_MSK_IAM", "", fmt.Sprintf("unsupported payload version %q", payload["version"]), nil)
	}
	r := signedRequest{params: map[string]string{}, host: payload["host"], signature: payload["x-amz-signature"]}
	for k, name := range mskIAMParams {
		if val, ok := payload[k]; ok {
			r.params[name] = val
		}
	}
	ok, akid, err := s.v.verify(r, "")
	if err != nil {
		return nil, false, auth.Fail("AWS_MSK_IAM", akid, err.Error(), nil)
	}
	s.principal, s.expiry = auth.User(ok.key.PrincipalARN), ok.key.Expiry
	reply, _ := json.Marshal(map[string]string{"version": "2020_10_22", "request-id": newRequestID()})
	return reply, true, nil
}

func (s *iamSession) Principal() auth.Principal { return s.principal }
func (s *iamSession) Expiry() time.Time         { return s.expiry }

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// newRequestID is the id MSK returns on success; it ties nothing together, so any unique value
// does.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
