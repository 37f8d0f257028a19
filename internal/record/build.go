package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// BuildSpec describes a batch for Build.
type BuildSpec struct {
	Codec         int   // CodecNone..CodecZstd
	ProducerID    int64 // -1 for a non-idempotent producer
	ProducerEpoch int16 // -1 for a non-idempotent producer
	BaseSequence  int32 // -1 for a non-idempotent producer
	Transactional bool
	Control       bool // a control batch (transaction marker); Records must hold the marker
	Records       []Record
}

// Build encodes a valid v2 batch as a producer would (for tests, the CLI and benchmarks):
// BaseOffset 0, PartitionLeaderEpoch -1, CreateTime timestamps, CRC set, the records
// section compressed with spec.Codec. Record i gets offset delta i (Record.Offset is
// ignored). Record.Timestamp is absolute milliseconds, 0 meaning now; FirstTimestamp is the
// first record's timestamp and MaxTimestamp the largest. Key, Value and header values keep
// their nil (null) versus empty distinction. At least one record is required.
func Build(spec BuildSpec) ([]byte, error) {
	if len(spec.Records) == 0 {
		return nil, errors.New("record: Build needs at least one record")
	}
	if len(spec.Records) > math.MaxInt32 {
		return nil, errors.New("record: too many records")
	}
	if spec.Codec < CodecNone || spec.Codec > CodecZstd {
		return nil, fmt.Errorf("record: unknown compression codec %d", spec.Codec)
	}
	var now int64
	timestamp := func(r *Record) int64 {
		if r.Timestamp != 0 {
			return r.Timestamp
		}
		if now == 0 {
			now = time.Now().UnixMilli()
		}
		return now
	}
	first := timestamp(&spec.Records[0])
	maxTS := first
	var body, scratch []byte
	for i := range spec.Records {
		r := &spec.Records[i]
		ts := timestamp(r)
		maxTS = max(maxTS, ts)
		scratch = append(scratch[:0], byte(r.Attributes))
		scratch = appendVarlong(scratch, ts-first)
		scratch = appendVarint(scratch, int32(i))
		scratch = appendBytesField(scratch, r.Key)
		scratch = appendBytesField(scratch, r.Value)
		scratch = appendVarint(scratch, int32(len(r.Headers)))
		for _, h := range r.Headers {
			scratch = appendVarint(scratch, int32(len(h.Key)))
			scratch = append(scratch, h.Key...)
			scratch = appendBytesField(scratch, h.Value)
		}
		body = appendVarint(body, int32(len(scratch)))
		body = append(body, scratch...)
	}
	if spec.Codec != CodecNone {
		var err error
		if body, err = Compress(spec.Codec, body); err != nil {
			return nil, err
		}
	}
	if len(body) > math.MaxInt32-HeaderSize {
		return nil, errors.New("record: batch too large")
	}
	attrs := uint16(spec.Codec)
	if spec.Transactional {
		attrs |= AttrTransactional
	}
	if spec.Control {
		attrs |= AttrControl
	}
	n := len(spec.Records)
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	be := binary.BigEndian
	be.PutUint64(b[offBaseOffset:], 0)
	be.PutUint32(b[offLength:], uint32(HeaderSize+len(body)-lengthFieldEnd))
	be.PutUint32(b[offLeaderEpoch:], math.MaxUint32) // -1
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint32(b[offLastDelta:], uint32(n-1))
	be.PutUint64(b[offFirstTimestamp:], uint64(first))
	be.PutUint64(b[offMaxTimestamp:], uint64(maxTS))
	be.PutUint64(b[offProducerID:], uint64(spec.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(spec.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(spec.BaseSequence))
	be.PutUint32(b[offRecordCount:], uint32(n))
	b = append(b, body...)
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b, nil
}
