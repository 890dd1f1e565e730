package broker

// DescribeCluster (key 60), v0–v2.
//
// Answers the cluster id, this node as the controller id (as Kafka in KRaft mode reports an alive
// broker) and this node as the only broker, at the address advertised for the listener the
// client used. endpoint_type (v1+) must be 1 (brokers): 2 (controllers) is MISMATCHED_ENDPOINT_
// TYPE and anything else UNSUPPORTED_ENDPOINT_TYPE (Kafka's AuthHelper.computeDescribeCluster-
// Response; v0 cannot carry the field, so it always asks for brokers). The broker is never fenced (v2), so
// include_fenced_brokers changes nothing. Cluster authorized operations are filled only when asked
// for; until authorization lands they are every cluster operation.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/auth/authz"
)

// Endpoint types of DescribeCluster v1+ (KIP-919).
const (
	endpointBrokers     int8 = 1
	endpointControllers int8 = 2
)

func (s *Server) handleDescribeCluster(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.EndpointType != endpointBrokers {
		code, msg := kerr.UnsupportedEndpointType, fmt.Sprintf("unsupported endpoint type %d", req.EndpointType)
		if req.EndpointType == endpointControllers {
			code = kerr.MismatchedEndpointType
			msg = "the request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
		}
		resp.ErrorCode, resp.ErrorMessage = code.Code, &msg
		return respond(resp)
	}
	resp.EndpointType = endpointBrokers
	resp.ClusterID = s.cluster.store.State().ClusterID
	resp.ControllerID = s.cfg.NodeID
	host, port := s.advertised(c.listener)
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID, b.Host, b.Port = s.cfg.NodeID, host, port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{b}
	if req.IncludeClusterAuthorizedOperations {
		// Kafka's broker answers DescribeCluster for anyone; the operations field is 0 for a
		// principal that may not DESCRIBE the cluster.
		az := s.newAuthBatch(c, h)
		az.addOps(authz.Cluster)
		if az.ok(authz.OpDescribe, authz.Cluster) {
			resp.ClusterAuthorizedOperations = az.authorizedOps(authz.Cluster)
		} else {
			resp.ClusterAuthorizedOperations = 0
		}
	}
	return respond(resp)
}
