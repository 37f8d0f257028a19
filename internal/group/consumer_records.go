package group

// The record of a consumer group (KIP-848) in __consumer_offsets, in Kafka's schema:
//
//	key v3 ConsumerGroupMetadataKey:  version int16 (3), group string
//	value ConsumerGroupMetadataValue: version int16 (0), epoch int32, tagged fields
//	                                  (flexible: an unsigned varint count, 0 here)
//
// It holds the group epoch; a nil value is a tombstone (the group was deleted or became a
// classic group). Kafka's other KIP-848 records (members, target assignment, current
// assignments: key versions 4 to 8) are not written; records of those versions found in
// the log are skipped (ErrUnknownRecord). DecodeRecord does not decode key version 3
// either; Load reads it with DecodeConsumerGroupRecord.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

const consumerGroupKeyVersion = 3

// EncodeConsumerGroupKey encodes a ConsumerGroupMetadataKey.
func EncodeConsumerGroupKey(group string) []byte {
	b := make([]byte, 0, 4+len(group))
	b = binary.BigEndian.AppendUint16(b, consumerGroupKeyVersion)
	return appendString(b, group)
}

// EncodeConsumerGroupValue encodes a ConsumerGroupMetadataValue v0.
func EncodeConsumerGroupValue(epoch int32) []byte {
	b := make([]byte, 0, 7)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(epoch))
	return append(b, 0) // no tagged fields
}

// DecodeConsumerGroupRecord decodes a ConsumerGroupMetadata record: ok=false when the key
// is not one; epoch is nil for a tombstone.
func DecodeConsumerGroupRecord(key, value []byte) (group string, epoch *int32, ok bool, err error) {
	r := &reader{b: key}
	if r.int16() != consumerGroupKeyVersion || r.err != nil {
		return "", nil, false, nil
	}
	group = r.string()
	if r.err != nil {
		return "", nil, true, fmt.Errorf("consumer group metadata key: %w", r.err)
	}
	if value == nil {
		return group, nil, true, nil
	}
	vr := &reader{b: value}
	ver := vr.int16()
	e := vr.int32()
	if vr.err != nil {
		return "", nil, true, fmt.Errorf("consumer group metadata value: %w", vr.err)
	}
	if ver < 0 {
		return "", nil, true, fmt.Errorf("consumer group metadata value: unknown version %d", ver)
	}
	return group, &e, true, nil
}

// restoreConsumer sets a loaded group up as an empty consumer group at epoch: members
// join again (their old ids are UNKNOWN_MEMBER_ID) and get epochs above it.
func (g *group) restoreConsumer(epoch int32) {
	g.consumer = newCGroup()
	g.consumer.epoch = epoch
	g.consumer.assignmentEpoch = epoch
	g.consumer.storedEpoch = epoch
	g.protocolType = "consumer"
	g.state = stateEmpty
}

// The members of a consumer group, in a record of our own (Kafka's member and assignment
// records, key versions 5 to 8, are not used):
//
//	key v1000 ConsumerGroupMembersKey: version int16 (1000), group string
//	value v0: version int16 (0), group epoch int32, members array of
//	  {member_id string, instance_id nullable string, rack_id nullable string,
//	   client_id string, client_host string, session_timeout int32 (ms),
//	   rebalance_timeout int32 (ms), subscribed_topics array of string,
//	   server_assignor string, member_epoch int32, previous_member_epoch int32,
//	   state int8, left_static int8,
//	   assigned array of {topic string, partition int32, assigned_at_epoch int32},
//	   pending_revocation array of {topic string, partition int32}}
//
// encoded as the classic records (records.go). It is rewritten whenever a member joins,
// leaves or its epoch, assignment or subscription changes, and tombstoned with the group.
// On Load the members come back with their epochs and assignments (their sessions start
// again), so that they keep their partitions and their commits keep working across a
// coordinator failover.

const consumerMembersKeyVersion = 1000

// EncodeConsumerMembersKey encodes a ConsumerGroupMembersKey.
func EncodeConsumerMembersKey(group string) []byte {
	b := make([]byte, 0, 4+len(group))
	b = binary.BigEndian.AppendUint16(b, consumerMembersKeyVersion)
	return appendString(b, group)
}

// encodeConsumerMembers encodes the members of cg (in member id order).
func encodeConsumerMembers(cg *cgroup) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(cg.epoch))
	ms := cg.sortedMembers()
	b = binary.BigEndian.AppendUint32(b, uint32(len(ms)))
	for _, m := range ms {
		b = appendString(b, m.id)
		b = appendNullableString(b, m.instanceID)
		b = appendNullableString(b, m.rackID)
		b = appendString(b, m.clientID)
		b = appendString(b, m.clientHost)
		b = binary.BigEndian.AppendUint32(b, uint32(m.session/time.Millisecond))
		b = binary.BigEndian.AppendUint32(b, uint32(m.rebalance/time.Millisecond))
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.subscribed)))
		for _, t := range m.subscribed {
			b = appendString(b, t)
		}
		b = appendString(b, m.assignor)
		b = binary.BigEndian.AppendUint32(b, uint32(m.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(m.prevEpoch))
		left := byte(0)
		if m.leftStatic {
			left = 1
		}
		b = append(b, byte(m.state), left)
		tps := setTPs(m.assigned)
		b = binary.BigEndian.AppendUint32(b, uint32(len(tps)))
		for _, tp := range tps {
			b = appendString(b, tp.Topic)
			b = binary.BigEndian.AppendUint32(b, uint32(tp.Partition))
			b = binary.BigEndian.AppendUint32(b, uint32(m.assignedAt[tp]))
		}
		tps = setTPs(m.revoking)
		b = binary.BigEndian.AppendUint32(b, uint32(len(tps)))
		for _, tp := range tps {
			b = appendString(b, tp.Topic)
			b = binary.BigEndian.AppendUint32(b, uint32(tp.Partition))
		}
	}
	return b
}

func setTPs(s tpset) []TopicPartition {
	out := make([]TopicPartition, 0, len(s))
	for tp := range s {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

// decodeConsumerMembers decodes a members record value.
func decodeConsumerMembers(value []byte) ([]*cmember, error) {
	r := &reader{b: value}
	if ver := r.int16(); r.err == nil && ver != 0 {
		return nil, fmt.Errorf("consumer group members: unknown version %d", ver)
	}
	_ = r.int32()
	n := r.count(40)
	var out []*cmember
	for i := 0; i < n && r.err == nil; i++ {
		m := &cmember{assigned: tpset{}, revoking: tpset{}, assignedAt: map[TopicPartition]int32{}}
		m.id = r.string()
		m.instanceID = r.nullableString()
		m.rackID = r.nullableString()
		m.clientID = r.string()
		m.clientHost = r.string()
		m.session = time.Duration(r.int32()) * time.Millisecond
		m.rebalance = time.Duration(r.int32()) * time.Millisecond
		k := r.count(2)
		for j := 0; j < k && r.err == nil; j++ {
			m.subscribed = append(m.subscribed, r.string())
		}
		m.assignor = r.string()
		m.epoch = r.int32()
		m.prevEpoch = r.int32()
		if st := r.take(2); st != nil {
			m.state = memberState(st[0])
			m.leftStatic = st[1] == 1
		}
		k = r.count(10)
		for j := 0; j < k && r.err == nil; j++ {
			tp := TopicPartition{Topic: r.string(), Partition: r.int32()}
			m.assigned[tp] = struct{}{}
			m.assignedAt[tp] = r.int32()
		}
		k = r.count(6)
		for j := 0; j < k && r.err == nil; j++ {
			m.revoking[TopicPartition{Topic: r.string(), Partition: r.int32()}] = struct{}{}
		}
		out = append(out, m)
	}
	if r.err != nil {
		return nil, fmt.Errorf("consumer group members: %w", r.err)
	}
	return out, nil
}

// decodeConsumerMembersKey returns the group of a members record key.
func decodeConsumerMembersKey(key []byte) (string, bool) {
	r := &reader{b: key}
	if r.int16() != consumerMembersKeyVersion || r.err != nil {
		return "", false
	}
	g := r.string()
	return g, r.err == nil
}

// queueConsumerMembers queues the members record when it changed since last queued.
func (g *group) queueConsumerMembers() {
	cg := g.consumer
	if len(cg.members) == 0 {
		if cg.storedMembers != nil {
			g.out = append(g.out, Record{Key: EncodeConsumerMembersKey(g.id)})
			cg.storedMembers = nil
		}
		return
	}
	v := encodeConsumerMembers(cg)
	if bytes.Equal(v, cg.storedMembers) {
		return
	}
	cg.storedMembers = v
	g.out = append(g.out, Record{Key: EncodeConsumerMembersKey(g.id), Value: v})
}

// restoreConsumerMembers puts loaded members back: their sessions start now, the
// partitions they hold are theirs, and the group epoch is bumped so that the target
// assignment is computed again (on the next heartbeat) and everyone reconciles to it.
func (g *group) restoreConsumerMembers(ms []*cmember, stored []byte) {
	cg := g.consumer
	for _, m := range ms {
		cg.members[m.id] = m
		if m.instanceID != nil {
			cg.static[*m.instanceID] = m.id
		}
		for tp := range m.assigned {
			cg.owner[tp] = m.id
		}
		for tp := range m.revoking {
			cg.owner[tp] = m.id
		}
		if m.state == memberUnrevoked {
			m.revokeDeadline = g.now().Add(m.rebalance)
		}
		if m.session <= 0 {
			m.session = g.s.c.consumerSession()
		}
		if m.leftStatic {
			m.deadline = g.now().Add(m.session)
			g.startConsumerTimer(m, m.session)
		} else {
			g.armConsumerSession(m)
		}
	}
	cg.storedMembers = stored
	if len(ms) > 0 {
		cg.epoch++
		g.state = stateStable
	}
}
