package record

import (
	"encoding/binary"
	"fmt"
)

// Batch is one record batch inside a records field: its parsed header and its bytes, a
// sub-slice of the input (capacity-clipped to the batch).
type Batch struct {
	Header Header
	Bytes  []byte
}

// Split walks the concatenated batches of a produce request's records field (or of a log
// read) and returns each batch's bytes, without copying, with its parsed header. Headers
// are only checked as ParseHeader does (magic 2, sane length); use Validate on each batch
// for the rest. A truncated trailing batch, or any header ParseHeader rejects, is an error
// wrapping ErrCorrupt. Empty input gives no batches and no error.
func Split(records []byte) ([]Batch, error) {
	out := make([]Batch, 0, countBatches(records))
	for pos := 0; pos < len(records); {
		rest := records[pos:]
		h, err := ParseHeader(rest)
		if err != nil {
			return nil, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		size := h.TotalSize()
		if size > len(rest) {
			return nil, fmt.Errorf("%w: batch at byte %d is truncated: needs %d bytes, %d remain", ErrCorrupt, pos, size, len(rest))
		}
		out = append(out, Batch{Header: h, Bytes: rest[:size:size]})
		pos += size
	}
	return out, nil
}

// SplitPartial is Split for fetch responses and log reads, which may end in a partial
// batch: it returns the whole batches up to the first one that is truncated (or has a
// header ParseHeader rejects) and ignores the rest.
func SplitPartial(records []byte) []Batch {
	out := make([]Batch, 0, countBatches(records))
	for pos := 0; pos < len(records); {
		rest := records[pos:]
		h, err := ParseHeader(rest)
		if err != nil {
			break
		}
		size := h.TotalSize()
		if size > len(rest) {
			break
		}
		out = append(out, Batch{Header: h, Bytes: rest[:size:size]})
		pos += size
	}
	return out
}

// countBatches counts the batches records seems to hold by following the length fields,
// to size Split's result.
func countBatches(records []byte) int {
	n := 0
	for pos := 0; len(records)-pos >= HeaderSize; n++ {
		size := int(int32(binary.BigEndian.Uint32(records[pos+offLength:]))) + lengthFieldEnd
		if size < HeaderSize || size > len(records)-pos {
			return n + 1
		}
		pos += size
	}
	return n
}
