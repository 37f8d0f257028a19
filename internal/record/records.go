package record

import (
	"fmt"
)

// maxForEachDecompressed bounds the decompressed records section ForEachRecord accepts.
// ForEachRecord is meant for batches that already passed Validate with a smaller limit.
const maxForEachDecompressed = 1 << 30

// Record is one decoded record (for the CLI, tests and timestamp lookups; never used on the
// produce hot path).
type Record struct {
	Offset     int64
	Timestamp  int64
	Key, Value []byte // nil when null
	Headers    []RecordHeader
	Attributes int8
}

// RecordHeader is one record header; Value is nil when null.
type RecordHeader struct {
	Key   string
	Value []byte
}

// rawRecord is one record as encoded in a records section; its slices alias the section.
type rawRecord struct {
	attributes  int8
	tsDelta     int64
	offsetDelta int32
	key, value  []byte // nil when null
	headers     []byte // the encoded headers, after their count
	numHeaders  int32
}

// parseRecord parses and checks the record that starts at b[pos:] (idx is its index, for
// error messages) and returns the index after it. Every length must fit inside the
// record's own length, and the fields must use up exactly that length.
func parseRecord(b []byte, pos int, idx int32, rec *rawRecord) (int, error) {
	length, p, ok := readVarint(b, pos)
	if !ok {
		return 0, recordError(idx, "bad length varint")
	}
	if length < 0 || int(length) > len(b)-p {
		return 0, fmt.Errorf("%w: record %d: length %d, %d bytes left", ErrCorrupt, idx, length, len(b)-p)
	}
	end := p + int(length)
	r := b[:end] // every field below must lie inside the record
	if p >= end {
		return 0, recordError(idx, "missing attributes")
	}
	rec.attributes = int8(r[p])
	p++
	if rec.tsDelta, p, ok = readVarlong(r, p); !ok {
		return 0, recordError(idx, "bad timestamp delta varlong")
	}
	if rec.offsetDelta, p, ok = readVarint(r, p); !ok {
		return 0, recordError(idx, "bad offset delta varint")
	}
	var err error
	if rec.key, p, err = readBytesField(r, p, idx, "key"); err != nil {
		return 0, err
	}
	if rec.value, p, err = readBytesField(r, p, idx, "value"); err != nil {
		return 0, err
	}
	n, p, ok := readVarint(r, p)
	if !ok || n < 0 {
		return 0, fmt.Errorf("%w: record %d: bad header count (%d)", ErrCorrupt, idx, n)
	}
	start := p
	for h := int32(0); h < n; h++ { // each header takes at least 2 bytes, so this ends
		kl, q, ok := readVarint(r, p)
		if !ok || kl < 0 || int(kl) > end-q {
			return 0, fmt.Errorf("%w: record %d: header %d: bad key length (%d)", ErrCorrupt, idx, h, kl)
		}
		if _, p, err = readBytesField(r, q+int(kl), idx, "header value"); err != nil {
			return 0, err
		}
	}
	if p != end {
		return 0, fmt.Errorf("%w: record %d: %d bytes after its last field", ErrCorrupt, idx, end-p)
	}
	rec.headers = r[start:p:p]
	rec.numHeaders = n
	return end, nil
}

// readBytesField reads a varint length (-1 = null) and that many bytes of b. The result
// has its capacity clipped so that appending to it cannot overwrite the batch.
func readBytesField(b []byte, p int, idx int32, what string) ([]byte, int, error) {
	l, p, ok := readVarint(b, p)
	if !ok || l < -1 || int(l) > len(b)-p {
		return nil, 0, fmt.Errorf("%w: record %d: bad %s length (%d)", ErrCorrupt, idx, what, l)
	}
	if l < 0 {
		return nil, p, nil
	}
	e := p + int(l)
	return b[p:e:e], e, nil
}

func recordError(idx int32, what string) error {
	return fmt.Errorf("%w: record %d: %s", ErrCorrupt, idx, what)
}

// ForEachRecord decodes the records of the batch at the start of b, decompressing if
// needed, and calls fn for each in order with its absolute offset (BaseOffset+offsetDelta)
// and absolute timestamp (FirstTimestamp+delta, or MaxTimestamp for every record when the
// batch uses LogAppendTime). fn returning false stops the walk early with a nil error.
//
// It does not check the CRC (use Validate for that) but it checks the record framing and
// returns an error wrapping ErrCorrupt, never panicking, on malformed input. The records'
// Key, Value and header values alias b (or a fresh decompression buffer) and are
// capacity-clipped; copy them to keep them past a later change of b.
func ForEachRecord(b []byte, fn func(Record) bool) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if h.TotalSize() > len(b) {
		return fmt.Errorf("%w: batch needs %d bytes, have %d", ErrCorrupt, h.TotalSize(), len(b))
	}
	if h.NumRecords < 0 {
		return fmt.Errorf("%w: negative record count %d", ErrCorrupt, h.NumRecords)
	}
	data := b[HeaderSize:h.TotalSize()]
	if c := h.Codec(); c != CodecNone {
		if data, err = Decompress(c, data, maxForEachDecompressed); err != nil {
			return err
		}
	}
	logAppend := h.Attributes&AttrTimestampType != 0
	var rec rawRecord
	pos := 0
	for i := int32(0); i < h.NumRecords; i++ {
		if pos, err = parseRecord(data, pos, i, &rec); err != nil {
			return err
		}
		r := Record{
			Offset:     h.BaseOffset + int64(rec.offsetDelta),
			Timestamp:  h.FirstTimestamp + rec.tsDelta,
			Key:        rec.key,
			Value:      rec.value,
			Attributes: rec.attributes,
		}
		if logAppend {
			r.Timestamp = h.MaxTimestamp
		}
		if rec.numHeaders > 0 {
			r.Headers = decodeHeaders(rec.headers, rec.numHeaders)
		}
		if !fn(r) {
			return nil
		}
	}
	if pos != len(data) {
		return fmt.Errorf("%w: %d trailing bytes after %d records", ErrCorrupt, len(data)-pos, h.NumRecords)
	}
	return nil
}

// decodeHeaders decodes n headers that parseRecord already checked.
func decodeHeaders(b []byte, n int32) []RecordHeader {
	hs := make([]RecordHeader, 0, n)
	p := 0
	for range n {
		kl, q, _ := readVarint(b, p)
		key := string(b[q : q+int(kl)])
		val, next, _ := readBytesField(b, q+int(kl), 0, "")
		hs = append(hs, RecordHeader{Key: key, Value: val})
		p = next
	}
	return hs
}
