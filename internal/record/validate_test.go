package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestValidateRoundTrip(t *testing.T) {
	sets := map[string][]Record{
		"one-minimal": {{Timestamp: 1}},
		"100x100":     sampleRecords(100, 100),
		"3x300KiB":    sampleRecords(3, 300<<10), // several lz4 blocks, xerial chunks, zstd blocks
	}
	for _, codec := range testCodecs {
		for name, recs := range sets {
			t.Run(testCodecName(codec)+"/"+name, func(t *testing.T) {
				b := buildTest(t, codec, recs)
				SetBaseOffset(b, 1000)
				SetPartitionLeaderEpoch(b, 7)
				h, err := Validate(b, 4<<20)
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				wantCodec := codec
				if codec == codecXerial {
					wantCodec = CodecSnappy
				}
				if h.Codec() != wantCodec || h.NumRecords != int32(len(recs)) || h.BaseOffset != 1000 ||
					h.PartitionLeaderEpoch != 7 || h.LastOffset() != 1000+int64(len(recs))-1 || h.ProducerID != -1 {
					t.Fatalf("header %+v", h)
				}
				sameRecords(t, collect(t, b), recs, 1000)
			})
		}
	}
}

func TestBuildTimestamps(t *testing.T) {
	recs := []Record{{Timestamp: 500}, {Timestamp: 900}, {Timestamp: 100}}
	b := buildTest(t, CodecNone, recs)
	h, err := Validate(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.FirstTimestamp != 500 || h.MaxTimestamp != 900 {
		t.Fatalf("first %d max %d", h.FirstTimestamp, h.MaxTimestamp)
	}
	b, err = Build(BuildSpec{ProducerID: 5, ProducerEpoch: 2, BaseSequence: 40, Transactional: true, Records: []Record{{Value: []byte("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	if h, err = Validate(b, 0); err != nil {
		t.Fatal(err)
	}
	if !h.IsTransactional() || h.IsControl() || h.ProducerID != 5 || h.ProducerEpoch != 2 || h.BaseSequence != 40 || h.FirstTimestamp == 0 {
		t.Fatalf("header %+v", h)
	}
	b, err = Build(BuildSpec{Control: true, Transactional: true, Records: []Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	if h, err = Validate(b, 0); err != nil || !h.IsControl() || !h.IsTransactional() {
		t.Fatalf("control batch: %+v, %v", h, err)
	}
	if _, err := Validate(b, math.MaxInt); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(BuildSpec{}); err == nil {
		t.Fatal("Build with no records succeeded")
	}
	if _, err := Build(BuildSpec{Codec: 5, Records: recs}); err == nil {
		t.Fatal("Build with codec 5 succeeded")
	}
}

// craft returns an uncompressed batch with the given record count and records section.
func craft(n int32, body []byte) []byte {
	b, err := Build(BuildSpec{Records: []Record{{Timestamp: 1}}})
	if err != nil {
		panic(err)
	}
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(n))
	binary.BigEndian.PutUint32(b[offLastDelta:], uint32(n-1))
	return withBody(b, CodecNone, body)
}

// rec encodes one record body (attributes 0, timestamp delta 0) with the given offset delta
// and raw tail bytes (key, value, headers).
func rec(offsetDelta int32, tail ...byte) []byte {
	body := appendVarint(appendVarlong([]byte{0}, 0), offsetDelta)
	body = append(body, tail...)
	return append(appendVarint(nil, int32(len(body))), body...)
}

func TestValidateCorrupt(t *testing.T) {
	good := buildTest(t, CodecNone, sampleRecords(5, 50))
	zstdGood := buildTest(t, CodecZstd, sampleRecords(5, 50))
	mod := func(b []byte, f func(b []byte)) []byte { b = bytes.Clone(b); f(b); return b }
	modFix := func(b []byte, f func(b []byte)) []byte { return mod(b, func(b []byte) { f(b); fixCRC(b) }) }
	setU32 := func(off int, v uint32) func([]byte) { return func(b []byte) { binary.BigEndian.PutUint32(b[off:], v) } }
	nullKV := []byte{1, 1, 0}   // key -1, value -1, 0 headers
	bomb := make([]byte, 1<<20) // 1 MiB of zeros, compresses to almost nothing
	bombBody := append(rec(0, 1, 1, 0), bomb...)
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:HeaderSize-1]},
		{"magic 0", modFix(good, func(b []byte) { b[offMagic] = 0 })},
		{"magic 1", modFix(good, func(b []byte) { b[offMagic] = 1 })},
		{"bad crc field", mod(good, func(b []byte) { b[offCRC] ^= 1 })},
		{"flipped body byte", mod(good, func(b []byte) { b[len(b)-3] ^= 0x40 })},
		{"flipped attributes", mod(good, func(b []byte) { b[offAttributes+1] ^= 0x10 })},
		{"length too big", mod(good, setU32(offLength, uint32(len(good)-11)))},
		{"length too small", mod(good, setU32(offLength, uint32(len(good)-13)))},
		{"negative length", mod(good, setU32(offLength, 0xffffffff))},
		{"truncated", good[:len(good)-1]},
		{"trailing byte after batch", append(bytes.Clone(good), 0)},
		{"count too high", modFix(good, func(b []byte) { setU32(offRecordCount, 6)(b); setU32(offLastDelta, 5)(b) })},
		{"count too low", modFix(good, func(b []byte) { setU32(offRecordCount, 4)(b); setU32(offLastDelta, 3)(b) })},
		{"zero records", craft(0, nil)},
		{"negative count", craft(-1, nil)},
		{"last offset delta mismatch", modFix(good, setU32(offLastDelta, 3))},
		{"trailing garbage in records", craft(1, append(rec(0, nullKV...), 0, 0))},
		{"unterminated varint", craft(1, bytes.Repeat([]byte{0xff}, 12))},
		{"overlong varint", craft(1, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00})},
		{"varint past 32 bits", craft(1, []byte{0x80, 0x80, 0x80, 0x80, 0x10})},
		{"record length past end", craft(1, append(appendVarint(nil, 50), 0, 0, 0))},
		{"negative record length", craft(1, appendVarint(nil, -2))},
		{"offset delta not index", craft(2, append(rec(0, nullKV...), rec(2, nullKV...)...))},
		{"key length < -1", craft(1, rec(0, 3, 1, 0))},
		{"key past record", craft(1, rec(0, 10, 'a', 1, 0))},
		{"value past record", craft(1, rec(0, 1, 10, 'a', 0))},
		{"negative header count", craft(1, rec(0, 1, 1, 1))},
		{"null header key", craft(1, rec(0, 1, 1, 2, 1, 1))},
		{"header count past record", craft(1, rec(0, 1, 1, 20))},
		{"bytes left in record", craft(1, rec(0, 1, 1, 0, 0))},
		{"missing fields", craft(1, []byte{2, 0})},
		{"empty record", craft(1, []byte{0})},
		{"unknown codec 5", modFix(good, func(b []byte) { b[offAttributes+1] |= 5 })},
		{"unknown codec 7", modFix(good, func(b []byte) { b[offAttributes+1] |= 7 })},
		{"gzip garbage", withBody(good, CodecGzip, good[HeaderSize:])},
		{"snappy garbage", withBody(good, CodecSnappy, []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2})},
		{"snappy bad block", withBody(good, CodecSnappy, []byte{10, 0xff, 0xff, 0xff, 0xff})},
		{"lz4 garbage", withBody(good, CodecLZ4, good[HeaderSize:])},
		{"zstd garbage", withBody(good, CodecZstd, good[HeaderSize:])},
		{"zstd truncated", withBody(zstdGood, CodecZstd, zstdGood[HeaderSize:len(zstdGood)-2])},
		{"zstd trailing byte", withBody(zstdGood, CodecZstd, append(bytes.Clone(zstdGood[HeaderSize:]), 0))},
		{"xerial truncated chunk", withBody(good, CodecSnappy, []byte("\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x01\x00abc"))},
		{"xerial short header", withBody(good, CodecSnappy, []byte("\x82SNAPPY\x00\x00\x00"))},
	}
	for _, codec := range testCodecs[1:] {
		c, body := compressTest(t, codec, bombBody)
		cases = append(cases, struct {
			name string
			b    []byte
		}{"bomb " + testCodecName(codec), withBody(good, c, body)})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Validate(c.b, 64<<10)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Validate = %v, want an ErrCorrupt error", err)
			}
			if len(c.name) > 4 && c.name[:4] == "bomb" && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Validate = %v, want ErrTooLarge", err)
			}
			t.Log(err)
		})
	}
}

// TestValidateMutations checks that no truncation or byte flip of valid batches panics, and
// that flips of CRC-covered bytes are caught.
func TestValidateMutations(t *testing.T) {
	for _, codec := range testCodecs {
		good := buildTest(t, codec, sampleRecords(3, 20))
		for n := range len(good) {
			if _, err := Validate(good[:n], 1<<20); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: Validate(first %d bytes) = %v", testCodecName(codec), n, err)
			}
		}
		for i := range good {
			b := bytes.Clone(good)
			b[i] ^= 0x5a
			_, err := Validate(b, 1<<20)
			if i >= offMagic && err == nil {
				t.Fatalf("%s: flip at %d not detected", testCodecName(codec), i)
			}
			fixCRC(b) // now only the structural checks stand in the way
			if h, err := Validate(b, 1<<20); err == nil {
				if got := len(collect(t, b)); got != int(h.NumRecords) {
					t.Fatalf("%s: flip at %d: %d records, header says %d", testCodecName(codec), i, got, h.NumRecords)
				}
			} else if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
		}
	}
}

func TestSetLogAppendTime(t *testing.T) {
	for _, codec := range testCodecs {
		b := buildTest(t, codec, sampleRecords(10, 30))
		h0, _ := ParseHeader(b)
		SetLogAppendTime(b, 1_800_000_000_000)
		h, err := Validate(b, 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", testCodecName(codec), err)
		}
		if h.Attributes&AttrTimestampType == 0 || h.MaxTimestamp != 1_800_000_000_000 || h.FirstTimestamp != h0.FirstTimestamp || h.Codec() != h0.Codec() {
			t.Fatalf("%s: header %+v", testCodecName(codec), h)
		}
		for _, r := range collect(t, b) {
			if r.Timestamp != 1_800_000_000_000 {
				t.Fatalf("record timestamp %d", r.Timestamp)
			}
		}
	}
}

func TestValidateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	b := buildTest(t, CodecNone, sampleRecords(100, 1024))
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Validate(b, 0); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("uncompressed Validate allocates %v times", n)
	}
	for _, codec := range testCodecs[1:] {
		b := buildTest(t, codec, sampleRecords(100, 1024))
		n := testing.AllocsPerRun(100, func() {
			if _, err := Validate(b, 1<<20); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %v allocs per Validate", testCodecName(codec), n)
	}
}

// TestValidateConcurrent exercises the pooled decoders from several goroutines (run with -race).
func TestValidateConcurrent(t *testing.T) {
	var batches [][]byte
	for _, codec := range testCodecs {
		batches = append(batches, buildTest(t, codec, sampleRecords(20, 500)))
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			var err error
			for i := range 30 {
				if _, err = Validate(batches[(g+i)%len(batches)], 1<<20); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// CRCMatches accepts a batch as built (base offset and leader epoch are outside the CRC)
// and refuses one with a changed byte inside it or a short buffer.
func TestCRCMatches(t *testing.T) {
	b := buildTest(t, CodecNone, sampleRecords(3, 10))
	SetBaseOffset(b, 99)
	SetPartitionLeaderEpoch(b, 4)
	h, err := ParseHeader(b)
	if err != nil || !h.CRCMatches(b) {
		t.Fatalf("valid batch: %v, crc matches %v", err, h.CRCMatches(b))
	}
	b[len(b)-1] ^= 1
	if h.CRCMatches(b) {
		t.Fatal("a changed record byte passed the CRC")
	}
	if h.CRCMatches(b[:HeaderSize-1]) {
		t.Fatal("a short buffer passed")
	}
}
