package group

// Journal keys and values (docs/format/coordinator.md). Keys are a prefix and a JSON array, so
// group ids and topic names of any content stay unambiguous:
//
//	group/["<group>"]                               group membership (JSON groupDoc)
//	offset/["<group>","<topic>",<partition>]        committed offset (JSON offset)
//	txnoffset/["<group>",<pid>,"<topic>",<part>]    pending transactional offset (JSON offset)

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bulwark-kafka/bulwark/broker/coordlog"
)

// Journal key prefixes owned by the group coordinator.
const (
	groupPrefix     = "group/"
	offsetPrefix    = "offset/"
	txnOffsetPrefix = "txnoffset/"
)

// Owns reports whether a journal key belongs to the group coordinator.
func Owns(key []byte) bool {
	return bytes.HasPrefix(key, []byte(groupPrefix)) || bytes.HasPrefix(key, []byte(offsetPrefix)) ||
		bytes.HasPrefix(key, []byte(txnOffsetPrefix))
}

func jsonKey(prefix string, parts ...any) []byte {
	b, _ := json.Marshal(parts)
	return append([]byte(prefix), b...)
}

func offsetKey(g string, tp topicPartition) []byte {
	return jsonKey(offsetPrefix, g, tp.topic, tp.partition)
}

func txnOffsetKey(g string, pid int64, tp topicPartition) []byte {
	return jsonKey(txnOffsetPrefix, g, pid, tp.topic, tp.partition)
}

// groupDoc is a group's persisted membership.
type groupDoc struct {
	Type         string      `json:"type"` // "classic" or "consumer"
	ProtocolType string      `json:"protocol_type,omitempty"`
	Protocol     string      `json:"protocol,omitempty"`
	Generation   int32       `json:"generation"`
	Leader       string      `json:"leader,omitempty"`
	Members      []memberDoc `json:"members,omitempty"`
	// Consumer protocol (KIP-848).
	Consumer *consumerDoc `json:"consumer,omitempty"`
}

type memberDoc struct {
	ID               string                          `json:"id"`
	InstanceID       string                          `json:"instance_id,omitempty"`
	ClientID         string                          `json:"client_id"`
	ClientHost       string                          `json:"client_host"`
	SessionTimeoutMs int64                           `json:"session_timeout_ms"`
	RebalanceTimeout int64                           `json:"rebalance_timeout_ms"`
	Protocols        []kmsg.JoinGroupRequestProtocol `json:"protocols"`
	Assignment       []byte                          `json:"assignment"`
}

// persistGroup writes the group's membership; mu is held. A group with nothing left (no
// members, no offsets) is deleted instead.
func (c *Coordinator) persistGroup(g *group) func(context.Context) error {
	key := jsonKey(groupPrefix, g.id)
	doc := groupDoc{Type: g.groupType()}
	switch {
	case g.classic != nil:
		cg := g.classic
		doc.ProtocolType, doc.Protocol, doc.Generation, doc.Leader = cg.protocolType, cg.protocol, cg.generation, cg.leader
		for _, id := range cg.sortedIDs() {
			m := cg.members[id]
			doc.Members = append(doc.Members, memberDoc{ID: m.id, InstanceID: m.instanceID, ClientID: m.clientID,
				ClientHost: m.clientHost, SessionTimeoutMs: m.sessionTimeout.Milliseconds(),
				RebalanceTimeout: m.rebalanceTimeout.Milliseconds(), Protocols: m.protocols, Assignment: m.assignment})
		}
	case g.consumer != nil:
		doc.Consumer = g.consumer.doc()
	}
	value, err := json.Marshal(doc)
	if err != nil {
		return func(context.Context) error { return err }
	}
	return c.write(coordlog.Entry{Key: key, Value: value})
}

// Restore rebuilds state from one journal entry during replay.
func (c *Coordinator) Restore(key, value []byte) error {
	switch {
	case bytes.HasPrefix(key, []byte(groupPrefix)):
		var parts []string
		if err := json.Unmarshal(key[len(groupPrefix):], &parts); err != nil || len(parts) != 1 {
			return fmt.Errorf("group: bad journal key %q", key)
		}
		var doc groupDoc
		if err := json.Unmarshal(value, &doc); err != nil {
			return fmt.Errorf("group: journal entry for %q: %w", parts[0], err)
		}
		c.restoreGroup(parts[0], doc)
	case bytes.HasPrefix(key, []byte(offsetPrefix)):
		var g, topic string
		var p int32
		if err := json.Unmarshal(key[len(offsetPrefix):], &[]any{&g, &topic, &p}); err != nil {
			return fmt.Errorf("group: bad journal key %q", key)
		}
		var o offset
		if err := json.Unmarshal(value, &o); err != nil {
			return fmt.Errorf("group: offset entry %q: %w", key, err)
		}
		c.getGroup(g, true).offsets[topicPartition{topic, p}] = o
	case bytes.HasPrefix(key, []byte(txnOffsetPrefix)):
		var g, topic string
		var pid int64
		var p int32
		if err := json.Unmarshal(key[len(txnOffsetPrefix):], &[]any{&g, &pid, &topic, &p}); err != nil {
			return fmt.Errorf("group: bad journal key %q", key)
		}
		var o offset
		if err := json.Unmarshal(value, &o); err != nil {
			return fmt.Errorf("group: transactional offset entry %q: %w", key, err)
		}
		gr := c.getGroup(g, true)
		if gr.pendingTxn[pid] == nil {
			gr.pendingTxn[pid] = make(map[topicPartition]offset)
		}
		gr.pendingTxn[pid][topicPartition{topic, p}] = o
	}
	return nil
}

func (c *Coordinator) restoreGroup(id string, doc groupDoc) {
	g := c.getGroup(id, true)
	switch doc.Type {
	case "consumer":
		if doc.Consumer != nil {
			g.consumer = restoreConsumer(doc.Consumer)
		}
	default:
		cg := newClassicGroup(doc.ProtocolType)
		cg.protocol, cg.generation, cg.leader = doc.Protocol, doc.Generation, doc.Leader
		for _, md := range doc.Members {
			if md.ID == "" || len(md.Protocols) == 0 {
				continue // not a member JoinGroup could have admitted
			}
			m := &member{id: md.ID, instanceID: md.InstanceID, clientID: md.ClientID, clientHost: md.ClientHost,
				sessionTimeout:   time.Duration(md.SessionTimeoutMs) * time.Millisecond,
				rebalanceTimeout: time.Duration(md.RebalanceTimeout) * time.Millisecond,
				protocols:        md.Protocols, assignment: md.Assignment}
			cg.members[m.id] = m
			if m.instanceID != "" {
				cg.static[m.instanceID] = m.id
			}
		}
		if len(cg.members) > 0 {
			cg.state = stateStable
			if cg.members[cg.leader] == nil {
				cg.leader = cg.firstMember()
			}
		}
		g.classic = cg
	}
}
