package record

import "fmt"

// The produce path checks the framing of every record of an uncompressed batch. Most
// records are small and header-less, so every varint in them takes one or two bytes;
// skipPlainRecord checks such a record with the varint fast path inlined and leaves
// every other record (and every error, with its message) to parseRecord.

// walkRecords checks that data holds exactly n records whose offset deltas are 0..n-1.
// It does not allocate unless it fails.
func walkRecords(data []byte, n int32) error { return walk(data, n, true) }

// walk is walkRecords; without fast, every record goes through parseRecord (the tests
// hold the two ways to the same answers).
func walk(data []byte, n int32, fast bool) error {
	var rec rawRecord
	pos := 0
	for i := int32(0); i < n; i++ {
		if fast {
			if next := skipPlainRecord(data, pos, i); next > 0 {
				pos = next
				continue
			}
		}
		next, err := parseRecord(data, pos, i, &rec)
		if err != nil {
			return err
		}
		if rec.offsetDelta != i {
			return fmt.Errorf("%w: record %d has offset delta %d", ErrCorrupt, i, rec.offsetDelta)
		}
		pos = next
	}
	if pos != len(data) {
		return fmt.Errorf("%w: %d trailing bytes after %d records", ErrCorrupt, len(data)-pos, n)
	}
	return nil
}

// skipPlainRecord returns the index after the record at b[pos:] if that record is
// well formed, has offset delta idx and no headers, and encodes each varint in at most
// two bytes; otherwise 0. A record it accepts is one parseRecord accepts with the same
// end; a record it does not is left to parseRecord.
func skipPlainRecord(b []byte, pos int, idx int32) int {
	length, n := shortVarint(b, pos)
	if n == 0 || length < 0 || int(length) > len(b)-pos-n {
		return 0
	}
	p := pos + n
	end := p + int(length)
	r := b[:end]
	p++                                   // attributes
	if _, n = shortVarint(r, p); n == 0 { // timestamp delta
		return 0
	}
	p += n
	delta, n := shortVarint(r, p)
	if n == 0 || delta != idx {
		return 0
	}
	p += n
	for range 2 { // key, value
		l, n := shortVarint(r, p)
		if n == 0 || l < -1 || int(l) > end-p-n {
			return 0
		}
		p += n + max(int(l), 0)
	}
	if headers, n := shortVarint(r, p); n == 0 || headers != 0 || p+n != end {
		return 0
	}
	return end
}

// shortVarint decodes a zigzag varint of one or two bytes at b[i:] and returns it with
// its length; the length is 0 when b ends first or the encoding is longer. A one- or
// two-byte varlong has the same value, so it serves timestamp deltas too.
func shortVarint(b []byte, i int) (v int32, n int) {
	if i < 0 || i >= len(b) {
		return 0, 0
	}
	x := uint32(b[i])
	if x < 0x80 {
		return int32(x>>1) ^ -int32(x&1), 1
	}
	if i+1 >= len(b) || b[i+1] >= 0x80 {
		return 0, 0
	}
	x = x&0x7f | uint32(b[i+1])<<7
	return int32(x>>1) ^ -int32(x&1), 2
}
