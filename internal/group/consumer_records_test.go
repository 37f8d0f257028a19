package group

import (
	"bytes"
	"testing"
	"time"
)

func TestConsumerRecords(t *testing.T) {
	k := EncodeConsumerGroupKey("grp")
	if !bytes.Equal(k, []byte{0, 3, 0, 3, 'g', 'r', 'p'}) {
		t.Fatalf("key %v", k)
	}
	if v := EncodeConsumerGroupValue(7); !bytes.Equal(v, []byte{0, 0, 0, 0, 0, 7, 0}) {
		t.Fatalf("value %v", v)
	}
	g, e, ok, err := DecodeConsumerGroupRecord(k, EncodeConsumerGroupValue(7))
	if !ok || err != nil || g != "grp" || *e != 7 {
		t.Fatalf("decode: %q %v %v %v", g, e, ok, err)
	}
	if g, e, ok, err := DecodeConsumerGroupRecord(k, nil); !ok || err != nil || g != "grp" || e != nil {
		t.Fatalf("tombstone: %q %v %v %v", g, e, ok, err)
	}
	if _, _, ok, _ := DecodeConsumerGroupRecord(EncodeGroupKey("grp"), nil); ok {
		t.Fatal("a classic key decoded as a consumer group key")
	}
	if _, err := DecodeRecord(k, nil); err == nil {
		t.Fatal("DecodeRecord decoded key version 3")
	}

	inst := "i"
	cg := newCGroup()
	cg.epoch = 5
	tp := TopicPartition{Topic: "t", Partition: 3}
	cg.members["m"] = &cmember{
		id: "m", instanceID: &inst, clientID: "c", clientHost: "h", session: 45 * time.Second, rebalance: time.Minute,
		subscribed: []string{"t", "u"}, assignor: "range", epoch: 5, prevEpoch: 4, state: memberUnrevoked,
		assigned: tpset{tp: {}}, assignedAt: map[TopicPartition]int32{tp: 4},
		revoking: tpset{{Topic: "u", Partition: 0}: {}},
	}
	v := encodeConsumerMembers(cg)
	ms, err := decodeConsumerMembers(v)
	if err != nil || len(ms) != 1 {
		t.Fatalf("members: %v %v", ms, err)
	}
	m := ms[0]
	if m.id != "m" || *m.instanceID != "i" || m.rackID != nil || m.session != 45*time.Second || m.rebalance != time.Minute ||
		len(m.subscribed) != 2 || m.assignor != "range" || m.epoch != 5 || m.prevEpoch != 4 || m.state != memberUnrevoked ||
		len(m.assigned) != 1 || m.assignedAt[tp] != 4 || len(m.revoking) != 1 {
		t.Fatalf("member: %+v", m)
	}
	if g, ok := decodeConsumerMembersKey(EncodeConsumerMembersKey("grp")); !ok || g != "grp" {
		t.Fatal("members key")
	}
	// Truncated values are errors, not panics.
	for i := range v {
		if _, err := decodeConsumerMembers(v[:i]); err == nil && i > 0 {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
}
