package group

// Group administration: DescribeGroups, ListGroups and DeleteGroups.

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func sortedPartitions[V any](m map[topicPartition]V) []topicPartition {
	out := make([]topicPartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out
}

// Exists reports whether a classic or consumer group (or a group that only has committed
// offsets) holds the id.
func (c *Coordinator) Exists(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groups[id] != nil
}

// DescribeGroups serves DescribeGroups for classic groups. A consumer-protocol group is
// described by ConsumerGroupDescribe; here it answers as Kafka 4 does for a group of another
// type.
func (c *Coordinator) DescribeGroups(version int16, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range req.Groups {
		out := kmsg.NewDescribeGroupsResponseGroup()
		out.Group = id
		out.AuthorizedOperations = -2147483648
		g := c.groups[id]
		switch {
		case c.closed:
			out.ErrorCode = notCoordinator
		case id == "":
			out.ErrorCode = kerr.InvalidGroupID.Code
		case g == nil:
			// Kafka describes an unknown group as Dead with no error (v0–v5); v6 (KIP-1043)
			// returns GROUP_ID_NOT_FOUND.
			out.State = "Dead"
			if version >= 6 {
				out.ErrorCode = kerr.GroupIDNotFound.Code
			}
		case g.consumer != nil:
			// Kafka 4 describes only classic groups here (ConsumerGroupDescribe serves the
			// rest): Dead without an error before v6, GROUP_ID_NOT_FOUND from v6 (KIP-1043).
			out.State = "Dead"
			if version >= 6 {
				out.ErrorCode = kerr.GroupIDNotFound.Code
				out.ErrorMessage = kmsg.StringPtr("Group " + id + " is not a classic group.")
			}
		default:
			out.State = g.stateName()
			out.ProtocolType = g.protocolType()
			if cg := g.classic; cg != nil {
				if cg.state == stateStable || cg.state == stateCompletingRebalance {
					out.Protocol = cg.protocol
				}
				for _, mid := range cg.sortedIDs() {
					m := cg.members[mid]
					dm := kmsg.DescribeGroupsResponseGroupMember{MemberID: m.id, ClientID: m.clientID, ClientHost: m.clientHost}
					if m.instanceID != "" {
						dm.InstanceID = kmsg.StringPtr(m.instanceID)
					}
					if cg.state == stateStable {
						dm.ProtocolMetadata = m.metadataFor(cg.protocol)
						dm.MemberAssignment = m.assignment
					}
					out.Members = append(out.Members, dm)
				}
			}
		}
		resp.Groups = append(resp.Groups, out)
	}
	return resp
}

// ListGroups serves ListGroups with the v4 state and v5 type filters (case-insensitive, as
// Kafka compares them).
func (c *Coordinator) ListGroups(version int16, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = notCoordinator
		return resp
	}
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	ids := make([]string, 0, len(c.groups))
	for id := range c.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := c.groups[id]
		if !match(req.StatesFilter, g.stateName()) || !match(req.TypesFilter, g.groupType()) {
			continue
		}
		resp.Groups = append(resp.Groups, kmsg.ListGroupsResponseGroup{Group: id, ProtocolType: g.protocolType(),
			GroupState: g.stateName(), GroupType: g.groupType()})
	}
	return resp
}

// DeleteGroups deletes empty groups and their offsets.
func (c *Coordinator) DeleteGroups(ctx context.Context, version int16, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	var entries []coordlog.Entry
	c.mu.Lock()
	for _, id := range req.Groups {
		out := kmsg.DeleteGroupsResponseGroup{Group: id}
		g := c.groups[id]
		switch {
		case c.closed:
			out.ErrorCode = notCoordinator
		case id == "":
			out.ErrorCode = kerr.InvalidGroupID.Code
		case g == nil:
			out.ErrorCode = kerr.GroupIDNotFound.Code
		case !g.isEmpty():
			out.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			c.shutdownGroup(g)
			delete(c.groups, id)
			for tp := range g.offsets {
				entries = append(entries, coordlog.Entry{Key: offsetKey(id, tp)})
			}
			for pid, offs := range g.pendingTxn {
				for tp := range offs {
					entries = append(entries, coordlog.Entry{Key: txnOffsetKey(id, pid, tp)})
				}
			}
			entries = append(entries, coordlog.Entry{Key: jsonKey(groupPrefix, id)})
			c.logger.Info("group deleted", "group", id)
		}
		resp.Groups = append(resp.Groups, out)
	}
	wait := c.write(entries...)
	c.mu.Unlock()
	if err := wait(ctx); err != nil {
		for i := range resp.Groups {
			if resp.Groups[i].ErrorCode == 0 {
				resp.Groups[i].ErrorCode = kerr.CoordinatorNotAvailable.Code
			}
		}
	}
	return resp
}
