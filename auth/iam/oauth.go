package iam

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/bulwark-kafka/bulwark/auth"
)

// oauthBearerMechanism is OAUTHBEARER (RFC 7628) carrying an MSK IAM token: base64url of a
// SigV4-presigned URL https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect&...
// as aws-msk-iam-sasl-signer-go makes it.
type oauthBearerMechanism struct{ v *Verifier }

// NewOAuthBearer returns the OAUTHBEARER mechanism for MSK IAM tokens.
func NewOAuthBearer(v *Verifier) auth.Mechanism { return oauthBearerMechanism{v: v} }

func (oauthBearerMechanism) Name() string { return "OAUTHBEARER" }

func (m oauthBearerMechanism) Start(auth.ConnInfo) auth.Session { return &oauthSession{v: m.v} }

type oauthSession struct {
	v         *Verifier
	step      int
	failure   *auth.Failure // a rejected token, reported once the client acknowledges the error
	principal auth.Principal
	expiry    time.Time
}

// oauthErrorReply is RFC 7628's error challenge; the client answers it with a single 0x01.
var oauthErrorReply = []byte(`{"status":"invalid_token"}`)

func (s *oauthSession) Step(msg []byte) ([]byte, bool, error) {
	s.step++
	switch {
	case s.step == 1:
		if f := s.first(msg); f != nil {
			s.failure = f
			return oauthErrorReply, false, nil
		}
		return []byte{}, true, nil
	case s.step == 2 && s.failure != nil:
		return nil, false, s.failure
	}
	return nil, false, auth.ErrUnexpectedMessage
}

// first checks the client's initial response and returns why it is refused, if it is.
func (s *oauthSession) first(msg []byte) *auth.Failure {
	fail := func(principal, reason string) *auth.Failure {
		return auth.Fail("OAUTHBEARER", principal, reason, nil)
	}
	if len(msg) > maxIAMPayload {
		return fail("", "message too long")
	}
	// gs2-header "n," [authzid] "," then kvpairs separated by 0x01, ending with 0x01 0x01.
	gs2, rest, ok := bytes.Cut(msg, []byte{0x01})
	if !ok || !bytes.HasPrefix(gs2, []byte("n,")) || !bytes.HasSuffix(gs2, []byte(",")) {
		return fail("", "malformed OAUTHBEARER GS2 header")
	}
	var token string
	for _, kv := range bytes.Split(rest, []byte{0x01}) {
		if k, v, ok := bytes.Cut(kv, []byte("=")); ok && string(k) == "auth" {
			scheme, t, ok := strings.Cut(string(v), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return fail("", "auth value is not a Bearer token")
			}
			token = strings.TrimSpace(t)
		}
	}
	if token == "" {
		return fail("", "no Bearer token")
	}
	r, err := parseMSKToken(token)
	if err != nil {
		return fail("", err.Error())
	}
	ok2, akid, err := s.v.verify(r, "kafka."+strings.ToLower(s.v.Region)+".amazonaws.com")
	if err != nil {
		return fail(akid, err.Error())
	}
	s.principal = auth.User(ok2.key.PrincipalARN)
	// An OAuth session lasts no longer than its token.
	s.expiry = ok2.expires
	if !ok2.key.Expiry.IsZero() && ok2.key.Expiry.Before(s.expiry) {
		s.expiry = ok2.key.Expiry
	}
	return nil
}

// parseMSKToken decodes an MSK IAM token into the request its signature covers. The signer
// appends User-Agent after signing, so it is not part of the signed query.
func parseMSKToken(token string) (signedRequest, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(token, "="))
	if err != nil {
		return signedRequest{}, errors.New("token is not base64url")
	}
	u, err := url.Parse(string(raw))
	if err != nil || u.Scheme != "https" || (u.Path != "/" && u.Path != "") {
		return signedRequest{}, errors.New("token is not an https URL for /")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return signedRequest{}, errors.New("token query is malformed")
	}
	r := signedRequest{params: map[string]string{}, host: u.Host, signature: q.Get("X-Amz-Signature")}
	for k, vs := range q {
		if len(vs) != 1 {
			return signedRequest{}, errors.New("token repeats a query parameter")
		}
		if k != "X-Amz-Signature" && k != "User-Agent" {
			r.params[k] = vs[0]
		}
	}
	return r, nil
}

func (s *oauthSession) Principal() auth.Principal { return s.principal }
func (s *oauthSession) Expiry() time.Time         { return s.expiry }
