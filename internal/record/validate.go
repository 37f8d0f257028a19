package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
)

// castagnoli is the CRC-32C table used by v2 batches (hardware accelerated on amd64/arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxPooledBuf is the largest decompression buffer kept for reuse; larger ones are dropped
// so that one huge batch does not pin memory.
const maxPooledBuf = 16 << 20

// decompBufs holds *[]byte decompression buffers for Validate.
var decompBufs = sync.Pool{New: func() any { return new([]byte) }}

// Validate fully checks the one batch that starts at b[0] and spans exactly len(b) bytes,
// as a broker must before appending it to a log:
//
//   - the header is sane (ParseHeader: whole header, magic 2) and its length field is
//     len(b)-12;
//   - the CRC-32C over b[21:] equals the CRC field;
//   - NumRecords >= 1 (control batches too) and LastOffsetDelta == NumRecords-1;
//   - the codec is known (CodecNone..CodecZstd);
//   - the records section (decompressed first, to at most maxDecompressed bytes, else an
//     error wrapping ErrTooLarge) holds exactly NumRecords well-formed records, record i
//     having offset delta i, with no bytes left over.
//
// maxDecompressed only applies to compressed batches; a value <= 0 rejects every
// compressed batch that decompresses to any bytes. Validate of an uncompressed batch does
// not allocate; a compressed batch is decompressed into a pooled buffer. Every error wraps
// ErrCorrupt and says what is wrong. The returned Header is the parsed header (partially
// filled when the header itself is bad).
func Validate(b []byte, maxDecompressed int) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if h.TotalSize() != len(b) {
		return h, fmt.Errorf("%w: length field %d, but the batch has %d bytes after it", ErrCorrupt, h.Length, len(b)-lengthFieldEnd)
	}
	if crc := crc32.Checksum(b[offAttributes:], castagnoli); crc != h.CRC {
		return h, fmt.Errorf("%w: CRC is %#08x, batch has %#08x", ErrCorrupt, crc, h.CRC)
	}
	if h.NumRecords < 1 {
		return h, fmt.Errorf("%w: record count %d", ErrCorrupt, h.NumRecords)
	}
	if h.LastOffsetDelta != h.NumRecords-1 {
		return h, fmt.Errorf("%w: last offset delta %d with %d records", ErrCorrupt, h.LastOffsetDelta, h.NumRecords)
	}
	data := b[HeaderSize:]
	switch c := h.Codec(); c {
	case CodecNone:
		err = walkRecords(data, h.NumRecords)
	case CodecGzip, CodecSnappy, CodecLZ4, CodecZstd:
		// A record takes at least 7 bytes, so more records than that cannot fit.
		if int64(h.NumRecords) > int64(maxDecompressed)/7+1 {
			return h, fmt.Errorf("%w: %d records cannot fit in %d decompressed bytes", ErrTooLarge, h.NumRecords, maxDecompressed)
		}
		bp := decompBufs.Get().(*[]byte)
		out, derr := decompressAppend((*bp)[:0], c, data, maxDecompressed)
		if derr != nil {
			err = derr
		} else {
			err = walkRecords(out, h.NumRecords)
		}
		if cap(out) > cap(*bp) && cap(out) <= maxPooledBuf {
			*bp = out[:0]
		}
		decompBufs.Put(bp)
	default:
		err = fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, c)
	}
	return h, err
}

// CRCMatches reports whether h's CRC-32C matches the batch b (the whole batch, header
// included, as Split returns it). It checks nothing else.
func (h Header) CRCMatches(b []byte) bool {
	return len(b) >= HeaderSize && crc32.Checksum(b[offAttributes:], castagnoli) == h.CRC
}

// SetLogAppendTime marks the batch at the start of b as using LogAppendTime (attribute bit
// 0x08), sets its MaxTimestamp to ts and recomputes the CRC in place. As Kafka does, it
// leaves FirstTimestamp alone; readers use MaxTimestamp for every record of such a batch.
// b must hold the whole batch (e.g. a Batch.Bytes); bytes past the length field's end are
// not covered by the CRC. It panics if b is shorter than a header.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:])
	binary.BigEndian.PutUint16(b[offAttributes:], attrs|AttrTimestampType)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	end := len(b)
	if n := int(int32(binary.BigEndian.Uint32(b[offLength:]))) + lengthFieldEnd; n >= HeaderSize && n < end {
		end = n
	}
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:end], castagnoli))
}
