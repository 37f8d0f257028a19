package record

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kmsgBatch encodes recs as franz-go's kmsg does on the wire, records section compressed
// with codec, and fills in Length and the CRC as a client would.
func kmsgBatch(t *testing.T, codec int, recs []Record) []byte {
	first := recs[0].Timestamp
	maxTS := first
	var records []byte
	for i, r := range recs {
		maxTS = max(maxTS, r.Timestamp)
		kr := kmsg.Record{TimestampDelta64: r.Timestamp - first, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		kr.Length = int32(len(kr.AppendTo(nil)) - 1) // the body after a 1-byte zero length
		records = kr.AppendTo(records)
	}
	c, body := compressTest(t, codec, records)
	kb := kmsg.RecordBatch{
		FirstOffset: 42, PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(c),
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: first, MaxTimestamp: maxTS,
		ProducerID: 7, ProducerEpoch: 1, FirstSequence: 0, NumRecords: int32(len(recs)), Records: body,
	}
	b := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestKmsgInterop(t *testing.T) {
	recs := sampleRecords(50, 200)
	for _, codec := range testCodecs {
		t.Run(testCodecName(codec), func(t *testing.T) {
			// franz-go encodes, we validate and decode.
			b := kmsgBatch(t, codec, recs)
			h, err := Validate(b, 1<<20)
			if err != nil {
				t.Fatalf("Validate(kmsg batch): %v", err)
			}
			if h.BaseOffset != 42 || h.ProducerID != 7 || h.NumRecords != int32(len(recs)) {
				t.Fatalf("header %+v", h)
			}
			sameRecords(t, collect(t, b), recs, 42)

			// We build, franz-go decodes.
			b = buildTest(t, codec, recs)
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(b); err != nil {
				t.Fatal(err)
			}
			if uint32(kb.CRC) != crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)) || kb.NumRecords != int32(len(recs)) {
				t.Fatalf("kmsg batch %+v", kb)
			}
			data := kb.Records
			if c := int(kb.Attributes) & AttrCompressionMask; c != CodecNone {
				if data, err = Decompress(c, data, 1<<20); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range recs {
				var kr kmsg.Record
				if err := kr.ReadFrom(data); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if kr.OffsetDelta != int32(i) || kb.FirstTimestamp+kr.TimestampDelta64 != want.Timestamp ||
					!sameBytes(kr.Key, want.Key) || !sameBytes(kr.Value, want.Value) || len(kr.Headers) != len(want.Headers) {
					t.Fatalf("record %d: %+v", i, kr)
				}
				data = data[len(appendVarint(nil, kr.Length))+int(kr.Length):]
			}
			if len(data) != 0 {
				t.Fatalf("%d bytes left", len(data))
			}
		})
	}
	if !bytes.Equal(kmsgBatch(t, CodecNone, recs)[HeaderSize:], buildTest(t, CodecNone, recs)[HeaderSize:]) {
		t.Fatal("uncompressed records sections differ between kmsg and Build")
	}
}
