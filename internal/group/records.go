package group

// Records of __consumer_offsets in Kafka's own key/value schemas, so that the topic reads
// the same as Kafka's:
//
//	key v0/v1 OffsetCommitKey:   version int16, group string, topic string, partition int32
//	key v2    GroupMetadataKey:  version int16, group string
//	value OffsetCommitValue v0:  offset int64, metadata string, commit_timestamp int64
//	                        v1:  offset, metadata, commit_timestamp, expire_timestamp int64
//	                        v2:  offset, metadata, commit_timestamp
//	                        v3:  offset, leader_epoch int32, metadata, commit_timestamp
//	value GroupMetadataValue v0-v3: protocol_type string, generation int32,
//	      protocol nullable string, leader nullable string,
//	      current_state_timestamp int64 (v2+), members array of
//	      {member_id string, group_instance_id nullable string (v3+), client_id string,
//	       client_host string, rebalance_timeout int32 (v1+), session_timeout int32,
//	       subscription bytes, assignment bytes}
//
// Strings carry an int16 length (-1 null), bytes an int32 length, arrays an int32 count,
// all big-endian. We write key v1 / v2, offset value v3 and group value v3. A nil value is
// a tombstone. Other key versions decode to ErrUnknownRecord; Load reads the consumer
// group records (key versions 3 and 1000, consumer_records.go) and skips the rest.

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// OffsetKey identifies one committed offset.
type OffsetKey struct {
	Group     string
	Topic     string
	Partition int32
}

// OffsetValue is one committed offset.
type OffsetValue struct {
	Offset          int64
	LeaderEpoch     int32  // -1 unknown
	Metadata        string //
	CommitTimestamp int64  // ms since the epoch
	ExpireTimestamp int64  // ms, -1 none (only value v1 carries it)
}

// GroupValue is the stored metadata of a group as of its last completed rebalance.
type GroupValue struct {
	ProtocolType          string
	Generation            int32
	Protocol              *string
	Leader                *string
	CurrentStateTimestamp int64 // ms, -1 unknown
	Members               []MemberValue
}

// MemberValue is one member in a GroupValue.
type MemberValue struct {
	MemberID         string
	InstanceID       *string
	ClientID         string
	ClientHost       string
	RebalanceTimeout int32 // ms
	SessionTimeout   int32 // ms
	Subscription     []byte
	Assignment       []byte
}

// Entry is one decoded record: exactly one of the key fields is set; the value is nil for
// a tombstone.
type Entry struct {
	OffsetKey *OffsetKey
	Offset    *OffsetValue // nil: tombstone
	GroupKey  *string
	Group     *GroupValue // nil: tombstone
}

// ErrUnknownRecord is returned by DecodeRecord for a key version it does not know.
var ErrUnknownRecord = errors.New("group: unknown record key version")

var errShortRecord = errors.New("group: record truncated")

// EncodeOffsetKey encodes an OffsetCommitKey v1.
func EncodeOffsetKey(k OffsetKey) []byte {
	b := make([]byte, 0, 2+2+len(k.Group)+2+len(k.Topic)+4)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = appendString(b, k.Group)
	b = appendString(b, k.Topic)
	return binary.BigEndian.AppendUint32(b, uint32(k.Partition))
}

// EncodeOffsetValue encodes an OffsetCommitValue v3.
func EncodeOffsetValue(v OffsetValue) []byte {
	b := make([]byte, 0, 2+8+4+2+len(v.Metadata)+8)
	b = binary.BigEndian.AppendUint16(b, 3)
	b = binary.BigEndian.AppendUint64(b, uint64(v.Offset))
	b = binary.BigEndian.AppendUint32(b, uint32(v.LeaderEpoch))
	b = appendString(b, v.Metadata)
	return binary.BigEndian.AppendUint64(b, uint64(v.CommitTimestamp))
}

// EncodeGroupKey encodes a GroupMetadataKey v2.
func EncodeGroupKey(group string) []byte {
	b := make([]byte, 0, 4+len(group))
	b = binary.BigEndian.AppendUint16(b, 2)
	return appendString(b, group)
}

// EncodeGroupValue encodes a GroupMetadataValue v3.
func EncodeGroupValue(v GroupValue) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, 3)
	b = appendString(b, v.ProtocolType)
	b = binary.BigEndian.AppendUint32(b, uint32(v.Generation))
	b = appendNullableString(b, v.Protocol)
	b = appendNullableString(b, v.Leader)
	b = binary.BigEndian.AppendUint64(b, uint64(v.CurrentStateTimestamp))
	b = binary.BigEndian.AppendUint32(b, uint32(len(v.Members)))
	for _, m := range v.Members {
		b = appendString(b, m.MemberID)
		b = appendNullableString(b, m.InstanceID)
		b = appendString(b, m.ClientID)
		b = appendString(b, m.ClientHost)
		b = binary.BigEndian.AppendUint32(b, uint32(m.RebalanceTimeout))
		b = binary.BigEndian.AppendUint32(b, uint32(m.SessionTimeout))
		b = appendBytes(b, m.Subscription)
		b = appendBytes(b, m.Assignment)
	}
	return b
}

// DecodeRecord decodes a __consumer_offsets record. A nil value is a tombstone. Trailing
// bytes after a known layout are accepted (Kafka ignores them too); every length is
// bounds-checked, so malformed input gives an error, never a panic.
func DecodeRecord(key, value []byte) (Entry, error) {
	r := &reader{b: key}
	ver := r.int16()
	if r.err != nil {
		return Entry{}, r.err
	}
	var e Entry
	switch ver {
	case 0, 1:
		k := OffsetKey{Group: r.string(), Topic: r.string(), Partition: r.int32()}
		if r.err != nil {
			return Entry{}, fmt.Errorf("offset commit key: %w", r.err)
		}
		e.OffsetKey = &k
		if value != nil {
			v, err := decodeOffsetValue(value)
			if err != nil {
				return Entry{}, err
			}
			e.Offset = &v
		}
	case 2:
		g := r.string()
		if r.err != nil {
			return Entry{}, fmt.Errorf("group metadata key: %w", r.err)
		}
		e.GroupKey = &g
		if value != nil {
			v, err := decodeGroupValue(value)
			if err != nil {
				return Entry{}, err
			}
			e.Group = &v
		}
	default:
		return Entry{}, fmt.Errorf("%w %d", ErrUnknownRecord, ver)
	}
	return e, nil
}

func decodeOffsetValue(b []byte) (OffsetValue, error) {
	r := &reader{b: b}
	v := OffsetValue{LeaderEpoch: -1, ExpireTimestamp: -1}
	ver := r.int16()
	v.Offset = r.int64()
	switch ver {
	case 0, 2:
		v.Metadata = r.string()
		v.CommitTimestamp = r.int64()
	case 1:
		v.Metadata = r.string()
		v.CommitTimestamp = r.int64()
		v.ExpireTimestamp = r.int64()
	case 3:
		v.LeaderEpoch = r.int32()
		v.Metadata = r.string()
		v.CommitTimestamp = r.int64()
	default:
		if r.err == nil {
			return OffsetValue{}, fmt.Errorf("offset commit value: unknown version %d", ver)
		}
	}
	if r.err != nil {
		return OffsetValue{}, fmt.Errorf("offset commit value: %w", r.err)
	}
	return v, nil
}

func decodeGroupValue(b []byte) (GroupValue, error) {
	r := &reader{b: b}
	ver := r.int16()
	if r.err == nil && (ver < 0 || ver > 3) {
		return GroupValue{}, fmt.Errorf("group metadata value: unknown version %d", ver)
	}
	v := GroupValue{CurrentStateTimestamp: -1}
	v.ProtocolType = r.string()
	v.Generation = r.int32()
	v.Protocol = r.nullableString()
	v.Leader = r.nullableString()
	if ver >= 2 {
		v.CurrentStateTimestamp = r.int64()
	}
	n := r.count(18) // a member takes at least 18 bytes (v0, all fields empty)
	for i := 0; i < n && r.err == nil; i++ {
		var m MemberValue
		m.MemberID = r.string()
		if ver >= 3 {
			m.InstanceID = r.nullableString()
		}
		m.ClientID = r.string()
		m.ClientHost = r.string()
		if ver >= 1 {
			m.RebalanceTimeout = r.int32()
		}
		m.SessionTimeout = r.int32()
		if ver == 0 {
			m.RebalanceTimeout = m.SessionTimeout
		}
		m.Subscription = r.bytes()
		m.Assignment = r.bytes()
		v.Members = append(v.Members, m)
	}
	if r.err != nil {
		return GroupValue{}, fmt.Errorf("group metadata value: %w", r.err)
	}
	return v, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendNullableString(b []byte, s *string) []byte {
	if s == nil {
		return binary.BigEndian.AppendUint16(b, 0xffff)
	}
	return appendString(b, *s)
}

func appendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// reader decodes big-endian fields; the first error sticks and later reads return zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errShortRecord
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) int16() int16 {
	if v := r.take(2); v != nil {
		return int16(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (r *reader) int32() int32 {
	if v := r.take(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

func (r *reader) int64() int64 {
	if v := r.take(8); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (r *reader) string() string {
	n := r.int16()
	if r.err == nil && n < 0 {
		r.err = errors.New("group: null string")
		return ""
	}
	return string(r.take(int(n)))
}

func (r *reader) nullableString() *string {
	n := r.int16()
	if r.err != nil || n == -1 {
		return nil
	}
	if n < 0 {
		r.err = errors.New("group: negative string length")
		return nil
	}
	s := string(r.take(int(n)))
	if r.err != nil {
		return nil
	}
	return &s
}

func (r *reader) bytes() []byte {
	n := r.int32()
	if r.err != nil || n == -1 {
		return nil
	}
	v := r.take(int(n))
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

// count reads an array length and checks that the remaining bytes can hold that many
// elements of at least min bytes each.
func (r *reader) count(min int) int {
	n := r.int32()
	if r.err != nil {
		return 0
	}
	if n < 0 || int64(n)*int64(min) > int64(len(r.b)) {
		r.err = fmt.Errorf("group: invalid array length %d", n)
		return 0
	}
	return int(n)
}
