package opa

import (
	"crypto/sha256"
	"strconv"
	"strings"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// input builds opa-kafka-plugin's input document for one action.
func input(rc *authz.RequestContext, a authz.Action) map[string]any {
	return map[string]any{
		"action": map[string]any{
			"logIfAllowed": a.LogIfAllowed,
			"logIfDenied":  a.LogIfDenied,
			"operation":    a.Operation.String(),
			"resourcePattern": map[string]any{
				"name":         a.Resource.Name,
				"patternType":  "LITERAL",
				"resourceType": a.Resource.Type.String(),
				"unknown":      false,
			},
			"resourceReferenceCount": a.ReferenceCount,
		},
		"requestContext": map[string]any{
			"clientAddress": rc.ClientAddr,
			"clientInformation": map[string]any{
				"softwareName":    rc.ClientSoftwareName,
				"softwareVersion": rc.ClientSoftwareVersion,
			},
			"connectionId": rc.ConnectionID,
			"header": map[string]any{
				"data": map[string]any{
					"clientId":          rc.ClientID,
					"correlationId":     rc.CorrelationID,
					"requestApiKey":     rc.APIKey,
					"requestApiVersion": rc.APIVersion,
				},
				"headerVersion": 1,
			},
			"listenerName":     rc.Listener,
			"principal":        map[string]any{"name": rc.Principal.Name, "principalType": rc.Principal.Type},
			"securityProtocol": rc.SecurityProtocol,
		},
	}
}

// cacheKey is the input's identity for the decision cache: every field but the correlation id
// and the reference count, length-prefixed so no two inputs share a key, and hashed so an entry
// costs the same whatever the client sends (client ids and group names are up to 32 KiB).
func cacheKey(rc *authz.RequestContext, a authz.Action) [sha256.Size]byte {
	var b strings.Builder
	for _, s := range []string{rc.Principal.Type, rc.Principal.Name, rc.ClientAddr, rc.ClientSoftwareName,
		rc.ClientSoftwareVersion, rc.ConnectionID, rc.ClientID, rc.Listener, rc.SecurityProtocol, a.Resource.Name} {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	b.WriteString(strconv.Itoa(int(rc.APIKey)))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(int(rc.APIVersion)))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(int(a.Operation)))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(int(a.Resource.Type)))
	if a.LogIfAllowed {
		b.WriteByte('A')
	}
	if a.LogIfDenied {
		b.WriteByte('D')
	}
	return sha256.Sum256([]byte(b.String()))
}
