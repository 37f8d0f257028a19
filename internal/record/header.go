// Package record reads, validates and rewrites Kafka record batches (magic v2) without
// re-encoding them: a batch stays the bytes the producer sent, apart from the header fields
// the broker owns (base offset, partition leader epoch, LogAppendTime).
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the size of a v2 record batch header, up to and including the record count.
const HeaderSize = 61

// Offsets of header fields inside a v2 batch.
const (
	offBaseOffset     = 0
	offLength         = 8
	offLeaderEpoch    = 12
	offMagic          = 16
	offCRC            = 17
	offAttributes     = 21
	offLastDelta      = 23
	offFirstTimestamp = 27
	offMaxTimestamp   = 35
	offProducerID     = 43
	offProducerEpoch  = 51
	offBaseSequence   = 53
	offRecordCount    = 57
)

// lengthFieldEnd is where the bytes counted by the batch length field start.
const lengthFieldEnd = 12

// Attribute bits.
const (
	AttrCompressionMask = 0x07
	AttrTimestampType   = 0x08 // set: LogAppendTime
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

// Compression codecs as stored in the low attribute bits.
const (
	CodecNone   = 0
	CodecGzip   = 1
	CodecSnappy = 2
	CodecLZ4    = 3
	CodecZstd   = 4
)

// ErrCorrupt is wrapped by every error that reports malformed batch bytes.
var ErrCorrupt = errors.New("corrupt record batch")

// Header is the decoded fixed part of a v2 record batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// TotalSize is the size of the whole batch in bytes, header included.
func (h Header) TotalSize() int { return int(h.Length) + lengthFieldEnd }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec returns the compression codec of the batch.
func (h Header) Codec() int { return int(h.Attributes) & AttrCompressionMask }

// IsTransactional reports whether the batch belongs to a transaction.
func (h Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports whether the batch is a control batch.
func (h Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// ParseHeader decodes the header of the batch at the start of b. It checks only that b
// holds a whole header, that the magic is 2 and that the length field is sane; it does not
// require the batch body to be present and does not check the CRC.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorrupt, len(b))
	}
	h := Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		Length:               int32(binary.BigEndian.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[offLastDelta:])),
		FirstTimestamp:       int64(binary.BigEndian.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}
	if h.Magic != 2 {
		return h, fmt.Errorf("%w: magic %d, only v2 batches are supported", ErrCorrupt, h.Magic)
	}
	if h.TotalSize() < HeaderSize {
		return h, fmt.Errorf("%w: batch length %d is shorter than a header", ErrCorrupt, h.Length)
	}
	return h, nil
}

// SetBaseOffset rewrites the base offset of the batch at the start of b. The CRC does not
// cover the base offset, so it stays valid.
func SetBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch rewrites the partition leader epoch; the CRC does not cover it.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}
