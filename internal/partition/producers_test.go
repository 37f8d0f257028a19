package partition

import (
	"errors"
	"testing"

	"github.com/chronik-stream/chronik/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

func hdr(pid int64, epoch int16, seq, n int32) record.Header {
	return record.Header{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, LastOffsetDelta: n - 1, NumRecords: n}
}

func TestSequenceRules(t *testing.T) {
	producers := map[int64]*producerState{}
	recordBatch(producers, hdr(7, 0, 0, 3), 100) // seq 0-2 at offset 100
	recordBatch(producers, hdr(7, 0, 3, 2), 103) // seq 3-4 at offset 103
	for _, tc := range []struct {
		name    string
		h       record.Header
		dup     bool
		dupOff  int64
		wantErr error
	}{
		{name: "next in order", h: hdr(7, 0, 5, 1)},
		{name: "retry of the last batch", h: hdr(7, 0, 3, 2), dup: true, dupOff: 103},
		{name: "retry of an older batch", h: hdr(7, 0, 0, 3), dup: true, dupOff: 100},
		{name: "gap", h: hdr(7, 0, 7, 1), wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "stale epoch", h: hdr(7, -1, 5, 1), wantErr: kerr.InvalidProducerEpoch},
		{name: "new epoch from zero", h: hdr(7, 1, 0, 1)},
		{name: "new epoch not from zero", h: hdr(7, 1, 4, 1), wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "unknown producer from zero", h: hdr(9, 0, 0, 1)},
		{name: "unknown producer mid-stream", h: hdr(9, 0, 12, 1), wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "not idempotent", h: hdr(-1, -1, -1, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkSequence(producers, tc.h)
			if !errors.Is(c.err, tc.wantErr) || c.dup != tc.dup || (tc.dup && c.dupOffset != tc.dupOff) {
				t.Fatalf("got dup=%v off=%d err=%v", c.dup, c.dupOffset, c.err)
			}
		})
	}
}

func TestCacheKeepsLastFiveBatches(t *testing.T) {
	producers := map[int64]*producerState{}
	for i := int32(0); i < 8; i++ {
		recordBatch(producers, hdr(1, 0, i, 1), int64(i))
	}
	if c := checkSequence(producers, hdr(1, 0, 2, 1)); c.dup {
		t.Fatal("batch older than the last five still deduplicated")
	}
	if c := checkSequence(producers, hdr(1, 0, 3, 1)); !c.dup || c.dupOffset != 3 {
		t.Fatalf("fifth-newest batch: %+v", c)
	}
	if nextSeq(1<<31-1) != 0 {
		t.Fatal("sequence does not wrap")
	}
}

func FuzzDecodeCheckpoint(f *testing.F) {
	good, _ := encodeCheckpoint(checkpoint{Applied: 9, EndOffset: 40, StartOffset: 2,
		Producers: map[int64]*producerState{3: {Epoch: 1, Batches: []seqBatch{{FirstSeq: 0, LastSeq: 4, BaseOffset: 30}}}}})
	f.Add(good)
	f.Add([]byte(`{"end_offset":-1}`))
	f.Add([]byte(`{"end_offset":3,"max_timestamp":5,"max_timestamp_batch":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := decodeCheckpoint(b)
		if err == nil && (cp.EndOffset < cp.StartOffset || cp.StartOffset < 0) {
			t.Fatalf("accepted offsets out of order: %+v", cp)
		}
		if err == nil && cp.MaxTimestamp != nil && (cp.MaxTimestampBatch < 0 || cp.MaxTimestampBatch >= cp.EndOffset) {
			t.Fatalf("accepted a largest timestamp in a batch at %d with end offset %d", cp.MaxTimestampBatch, cp.EndOffset)
		}
	})
}
