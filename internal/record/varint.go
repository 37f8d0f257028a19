package record

// Kafka encodes record fields as zigzag varints (protobuf style): a varint is an int32 of
// at most 5 bytes, a varlong an int64 of at most 10 bytes. The readers below are strict:
// they reject encodings longer than that and final bytes carrying bits beyond the type's
// width, which no real encoder produces.

// readVarint decodes the zigzag varint at b[i:] and returns it with the index after it.
// ok is false if b ends first or the encoding is too long.
func readVarint(b []byte, i int) (v int32, next int, ok bool) {
	if i < len(b) && b[i] < 0x80 { // one-byte fast path: most lengths and deltas
		x := uint32(b[i])
		return int32(x>>1) ^ -int32(x&1), i + 1, true
	}
	var x uint32
	for s := uint(0); s < 35; s += 7 {
		if i >= len(b) {
			return 0, i, false
		}
		c := b[i]
		i++
		if c < 0x80 {
			if s == 28 && c > 0x0f {
				return 0, i, false
			}
			x |= uint32(c) << s
			return int32(x>>1) ^ -int32(x&1), i, true
		}
		x |= uint32(c&0x7f) << s
	}
	return 0, i, false
}

// readVarlong is readVarint for 64-bit zigzag varlongs (at most 10 bytes).
func readVarlong(b []byte, i int) (v int64, next int, ok bool) {
	if i < len(b) && b[i] < 0x80 {
		x := uint64(b[i])
		return int64(x>>1) ^ -int64(x&1), i + 1, true
	}
	var x uint64
	for s := uint(0); s < 70; s += 7 {
		if i >= len(b) {
			return 0, i, false
		}
		c := b[i]
		i++
		if c < 0x80 {
			if s == 63 && c > 1 {
				return 0, i, false
			}
			x |= uint64(c) << s
			return int64(x>>1) ^ -int64(x&1), i, true
		}
		x |= uint64(c&0x7f) << s
	}
	return 0, i, false
}

// appendVarint appends v as a zigzag varint.
func appendVarint(b []byte, v int32) []byte {
	return appendUvarint(b, uint64(uint32(v<<1^v>>31)))
}

// appendVarlong appends v as a zigzag varlong.
func appendVarlong(b []byte, v int64) []byte {
	return appendUvarint(b, uint64(v<<1^v>>63))
}

func appendUvarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

// appendBytesField appends a varint length (-1 for nil) followed by p.
func appendBytesField(b, p []byte) []byte {
	if p == nil {
		return appendVarint(b, -1)
	}
	b = appendVarint(b, int32(len(p)))
	return append(b, p...)
}
