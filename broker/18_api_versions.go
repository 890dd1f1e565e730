package broker

// ApiVersions (key 18), v0–v4. v3+ answers carry the finalized features (brokerFeatures).
//
// Served before authentication. Any version is accepted (KIP-511): a version newer than this
// broker knows gets a v0 body with UNSUPPORTED_VERSION listing only ApiVersions itself, so the
// client retries with a version both sides speak. v3+ requests must name the client software
// with Kafka's pattern, otherwise INVALID_REQUEST. The advertised keys and versions come from the
// handler table, so nothing unimplemented is ever advertised.

import (
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var clientSoftwarePattern = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func (s *Server) handleApiVersions(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	self, _ := s.table.lookup(apiKeyApiVersions)

	if h.version > self.max {
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: self.key, MinVersion: self.min, MaxVersion: self.max}}
		return respond(resp)
	}
	if h.version >= 3 && (!clientSoftwarePattern.MatchString(req.ClientSoftwareName) ||
		!clientSoftwarePattern.MatchString(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return respond(resp)
	}
	for _, e := range s.table.sorted() {
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{
			ApiKey: e.key, MinVersion: e.min, MaxVersion: e.max,
		})
	}
	if h.version >= 3 {
		c.clientSoftware = req.ClientSoftwareName + "/" + req.ClientSoftwareVersion
		for _, f := range brokerFeatures {
			resp.SupportedFeatures = append(resp.SupportedFeatures, kmsg.ApiVersionsResponseSupportedFeature{
				Name: f.name, MinVersion: 0, MaxVersion: f.level})
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, kmsg.ApiVersionsResponseFinalizedFeature{
				Name: f.name, MinVersionLevel: f.level, MaxVersionLevel: f.level})
		}
		resp.FinalizedFeaturesEpoch = 1
	}
	return respond(resp)
}

// brokerFeatures are the finalized feature levels (KIP-584) this broker runs at, as a Kafka 4.0
// cluster reports them: transaction.version 2 (KIP-890 part 2: Produce v12 and TxnOffsetCommit
// v5 add partitions and groups to a transaction implicitly, EndTxn v5 bumps the epoch after every
// transaction), group.version 1 (the KIP-848 consumer protocol) and, as Kafka 4.2 does once
// queues are enabled, share.version 1 (KIP-932 share groups).
var brokerFeatures = []struct {
	name  string
	level int16
}{
	{"group.version", 1},
	{"share.version", 1},
	{"transaction.version", transactionVersion},
}
