package group

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	k := OffsetKey{Group: "g", Topic: "t", Partition: 7}
	v := OffsetValue{Offset: 42, LeaderEpoch: 3, Metadata: "md", CommitTimestamp: 1700000000000, ExpireTimestamp: -1}
	e, err := DecodeRecord(EncodeOffsetKey(k), EncodeOffsetValue(v))
	if err != nil || *e.OffsetKey != k || *e.Offset != v {
		t.Fatalf("offset: %+v %v", e, err)
	}
	e, err = DecodeRecord(EncodeOffsetKey(k), nil)
	if err != nil || *e.OffsetKey != k || e.Offset != nil {
		t.Fatalf("offset tombstone: %+v %v", e, err)
	}
	inst, proto, leader := "i", "range", "m1"
	gv := GroupValue{
		ProtocolType: "consumer", Generation: 5, Protocol: &proto, Leader: &leader, CurrentStateTimestamp: 99,
		Members: []MemberValue{
			{MemberID: "m1", InstanceID: &inst, ClientID: "c", ClientHost: "/1.2.3.4", RebalanceTimeout: 60000, SessionTimeout: 10000, Subscription: []byte{1}, Assignment: []byte{2}},
			{MemberID: "m2", ClientID: "c", RebalanceTimeout: 1, SessionTimeout: 2, Subscription: []byte{}, Assignment: []byte{}},
		},
	}
	e, err = DecodeRecord(EncodeGroupKey("g"), EncodeGroupValue(gv))
	if err != nil || *e.GroupKey != "g" || !reflect.DeepEqual(*e.Group, gv) {
		t.Fatalf("group: %+v %v", e.Group, err)
	}
	empty := GroupValue{ProtocolType: "consumer", Generation: 6, CurrentStateTimestamp: 100}
	e, err = DecodeRecord(EncodeGroupKey("g"), EncodeGroupValue(empty))
	if err != nil || !reflect.DeepEqual(*e.Group, empty) {
		t.Fatalf("empty group: %+v %v", e.Group, err)
	}
	if _, err := DecodeRecord([]byte{0, 3, 0, 0}, nil); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("unknown key version: %v", err)
	}
}

// TestDecodeOldVersions decodes offset values v0-v2 and group values v0-v2 laid out by
// hand after Kafka's schemas.
func TestDecodeOldVersions(t *testing.T) {
	be16 := func(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	be32 := func(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
	be64 := func(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }
	key := EncodeOffsetKey(OffsetKey{Group: "g", Topic: "t"})
	v1 := be64(appendString(be64(be16(nil, 1), 10), "m"), 5)
	v1 = be64(v1, 77)
	e, err := DecodeRecord(key, v1)
	if err != nil || *e.Offset != (OffsetValue{Offset: 10, LeaderEpoch: -1, Metadata: "m", CommitTimestamp: 5, ExpireTimestamp: 77}) {
		t.Fatalf("v1: %+v %v", e.Offset, err)
	}
	v0 := be64(appendString(be64(be16(nil, 0), 10), "m"), 5)
	e, err = DecodeRecord(key, v0)
	if err != nil || *e.Offset != (OffsetValue{Offset: 10, LeaderEpoch: -1, Metadata: "m", CommitTimestamp: 5, ExpireTimestamp: -1}) {
		t.Fatalf("v0: %+v %v", e.Offset, err)
	}
	g0 := be16(nil, 0)
	g0 = appendString(g0, "consumer")
	g0 = be32(g0, 3)
	g0 = appendString(g0, "range")
	g0 = appendString(g0, "m")
	g0 = be32(g0, 1)
	g0 = appendString(g0, "m")
	g0 = appendString(g0, "c")
	g0 = appendString(g0, "h")
	g0 = be32(g0, 9000)
	g0 = appendBytes(g0, []byte{1})
	g0 = appendBytes(g0, []byte{2})
	e, err = DecodeRecord(EncodeGroupKey("g"), g0)
	if err != nil || e.Group.Generation != 3 || len(e.Group.Members) != 1 || e.Group.Members[0].RebalanceTimeout != 9000 || e.Group.CurrentStateTimestamp != -1 {
		t.Fatalf("group v0: %+v %v", e.Group, err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	inst, proto := "i", "range"
	f.Add(EncodeOffsetKey(OffsetKey{"g", "t", 1}), EncodeOffsetValue(OffsetValue{Offset: 1, LeaderEpoch: -1}), false)
	f.Add(EncodeOffsetKey(OffsetKey{"g", "t", 1}), []byte(nil), true)
	f.Add(EncodeGroupKey("g"), EncodeGroupValue(GroupValue{ProtocolType: "consumer", Protocol: &proto, Members: []MemberValue{{MemberID: "m", InstanceID: &inst}}}), false)
	f.Add([]byte{0, 2, 0xff, 0xff}, []byte{0, 3, 0xff}, false)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		} else if value == nil {
			value = []byte{}
		}
		e, err := DecodeRecord(key, value)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		switch {
		case e.OffsetKey != nil:
			k2, err := DecodeRecord(EncodeOffsetKey(*e.OffsetKey), nil)
			if err != nil || *k2.OffsetKey != *e.OffsetKey {
				t.Fatalf("offset key round trip: %+v %v", k2, err)
			}
			if e.Offset != nil {
				v := *e.Offset
				e2, err := DecodeRecord(EncodeOffsetKey(*e.OffsetKey), EncodeOffsetValue(v))
				v.ExpireTimestamp = -1 // v3 does not carry it
				if err != nil || *e2.Offset != v {
					t.Fatalf("offset value round trip: %+v %v", e2.Offset, err)
				}
			}
		case e.GroupKey != nil:
			if e.Group != nil {
				b := EncodeGroupValue(*e.Group)
				e2, err := DecodeRecord(EncodeGroupKey(*e.GroupKey), b)
				if err != nil || !bytes.Equal(EncodeGroupValue(*e2.Group), b) {
					t.Fatalf("group value round trip: %v", err)
				}
			}
		default:
			t.Fatalf("decoded nothing: %+v", e)
		}
	})
}
