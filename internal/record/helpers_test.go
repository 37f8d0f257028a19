package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/snappy/xerial"
)

// codecXerial is a test-only pseudo codec: snappy with the Java client's xerial framing.
const codecXerial = 100

var testCodecs = []int{CodecNone, CodecGzip, CodecSnappy, codecXerial, CodecLZ4, CodecZstd}

func testCodecName(c int) string {
	if c == codecXerial {
		return "xerial"
	}
	return codecName(c)
}

// sampleRecords returns n records with valueSize-byte compressible values, a mix of null
// and empty keys/values and headers.
func sampleRecords(n, valueSize int) []Record {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(valueSize)))
	words := []string{"alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot "}
	recs := make([]Record, n)
	for i := range recs {
		var v bytes.Buffer
		for v.Len() < valueSize {
			v.WriteString(words[rng.IntN(len(words))])
		}
		r := Record{
			Timestamp: 1_700_000_000_000 + int64(rng.IntN(2000)) - 1000,
			Key:       fmt.Appendf(nil, "key-%d", i),
			Value:     v.Bytes()[:valueSize],
		}
		switch i % 7 {
		case 1:
			r.Key = nil
		case 2:
			r.Value = nil
		case 3:
			r.Key, r.Value = []byte{}, []byte{}
		case 4:
			r.Headers = []RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "", Value: nil}, {Key: "h3", Value: []byte{}}}
		}
		recs[i] = r
	}
	return recs
}

// buildTest builds a batch; codecXerial builds an uncompressed batch and then reframes
// its records section as xerial snappy.
func buildTest(t testing.TB, codec int, recs []Record) []byte {
	t.Helper()
	spec := BuildSpec{Codec: codec, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Records: recs}
	if codec == codecXerial {
		spec.Codec = CodecNone
	}
	b, err := Build(spec)
	if err != nil {
		t.Fatalf("Build(%s): %v", testCodecName(codec), err)
	}
	if codec == codecXerial {
		c, body := compressTest(t, codec, b[HeaderSize:])
		b = withBody(b, c, body)
	}
	return b
}

// withBody returns a copy of batch b with its codec and records section replaced, the
// length and CRC fixed.
func withBody(b []byte, codec int, body []byte) []byte {
	out := append(bytes.Clone(b[:HeaderSize]), body...)
	attrs := binary.BigEndian.Uint16(out[offAttributes:])&^AttrCompressionMask | uint16(codec)
	binary.BigEndian.PutUint16(out[offAttributes:], attrs)
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-lengthFieldEnd))
	fixCRC(out)
	return out
}

// compressTest compresses body with codec (codecXerial included) and returns the codec to
// put in the attributes.
func compressTest(t testing.TB, codec int, body []byte) (int, []byte) {
	t.Helper()
	if codec == codecXerial {
		return CodecSnappy, xerial.Encode(nil, body)
	}
	out, err := Compress(codec, body)
	if err != nil {
		t.Fatal(err)
	}
	return codec, out
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))
}

// collect returns the records ForEachRecord yields.
func collect(t testing.TB, b []byte) []Record {
	t.Helper()
	var out []Record
	if err := ForEachRecord(b, func(r Record) bool { out = append(out, r); return true }); err != nil {
		t.Fatalf("ForEachRecord: %v", err)
	}
	return out
}

// sameRecords compares decoded records with what was built, nil-ness included.
func sameRecords(t testing.TB, got, want []Record, baseOffset int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Offset != baseOffset+int64(i) || g.Timestamp != w.Timestamp || g.Attributes != w.Attributes {
			t.Fatalf("record %d: offset %d ts %d attrs %d, want %d %d %d", i, g.Offset, g.Timestamp, g.Attributes, baseOffset+int64(i), w.Timestamp, w.Attributes)
		}
		if !sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) {
			t.Fatalf("record %d: key/value %q/%q, want %q/%q", i, g.Key, g.Value, w.Key, w.Value)
		}
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
		}
		for j, h := range g.Headers {
			if h.Key != w.Headers[j].Key || !sameBytes(h.Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: %q=%q, want %q=%q", i, j, h.Key, h.Value, w.Headers[j].Key, w.Headers[j].Value)
			}
		}
	}
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
