package record

import (
	"bytes"
	"errors"
	"testing"
)

func fuzzBatches(f *testing.F) [][]byte {
	var out [][]byte
	for _, codec := range testCodecs {
		out = append(out, buildTest(f, codec, sampleRecords(1, 0)), buildTest(f, codec, sampleRecords(8, 40)))
	}
	return out
}

// checkBatch asserts the Validate contract on b: errors wrap ErrCorrupt, and success means
// ForEachRecord yields exactly NumRecords records at consecutive offsets.
func checkBatch(t *testing.T, b []byte) {
	h, err := Validate(b, 1<<20)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Validate error %v does not wrap ErrCorrupt", err)
		}
		return
	}
	n := int64(0)
	err = ForEachRecord(b, func(r Record) bool {
		if r.Offset != h.BaseOffset+n {
			t.Fatalf("record %d has offset %d, base %d", n, r.Offset, h.BaseOffset)
		}
		n++
		return true
	})
	if err != nil || n != int64(h.NumRecords) {
		t.Fatalf("Validate passed but ForEachRecord gave %d of %d records: %v", n, h.NumRecords, err)
	}
}

func FuzzValidate(f *testing.F) {
	for _, b := range fuzzBatches(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkBatch(t, b)
		if err := ForEachRecord(b, func(Record) bool { return true }); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("ForEachRecord error %v does not wrap ErrCorrupt", err)
		}
		// Most mutations break the CRC; repair it so the fuzzer reaches the records.
		if len(b) >= HeaderSize {
			b = bytes.Clone(b)
			fixCRC(b)
			checkBatch(t, b)
			SetLogAppendTime(b, 12345)
			checkBatch(t, b)
		}
	})
}

func FuzzSplit(f *testing.F) {
	batches := fuzzBatches(f)
	all := bytes.Join(batches[:3], nil)
	f.Add(all)
	f.Add(all[:len(all)-7])
	f.Add(batches[5])
	f.Fuzz(func(t *testing.T, records []byte) {
		got, err := Split(records)
		partial := SplitPartial(records)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Split error %v does not wrap ErrCorrupt", err)
		}
		if err == nil && len(got) != len(partial) {
			t.Fatalf("Split gave %d batches, SplitPartial %d", len(got), len(partial))
		}
		pos := 0
		for _, b := range partial {
			if len(b.Bytes) != b.Header.TotalSize() || &b.Bytes[0] != &records[pos] {
				t.Fatalf("batch at %d is not the next %d bytes", pos, b.Header.TotalSize())
			}
			pos += len(b.Bytes)
		}
		if err == nil && pos != len(records) {
			t.Fatalf("Split covered %d of %d bytes", pos, len(records))
		}
	})
}

func FuzzDecompress(f *testing.F) {
	for _, codec := range testCodecs[1:] {
		for _, in := range [][]byte{{}, []byte("hello hello hello hello"), bytes.Repeat([]byte{7}, 100_000)} {
			c, z := compressTest(f, codec, in)
			f.Add(uint8(c), z)
		}
	}
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, codec uint8, data []byte) {
		c := int(codec % 5)
		out, err := Decompress(c, data, limit)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decompress error %v does not wrap ErrCorrupt", err)
		}
		if err == nil && len(out) > limit {
			t.Fatalf("Decompress returned %d bytes, limit %d", len(out), limit)
		}
		z, err := Compress(c, data)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := Decompress(c, z, len(data)); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(data), len(out), err)
		}
	})
}
