package record

import "testing"

// BenchmarkValidate measures Validate on a 100 x 1 KiB batch; bytes/s counts the batch as
// sent on the wire (compressed for the compressed cases).
func BenchmarkValidate(b *testing.B) {
	recs := sampleRecords(100, 1024)
	for _, codec := range testCodecs {
		batch := buildTest(b, codec, recs)
		b.Run(testCodecName(codec)+"-100x1KiB", func(b *testing.B) {
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Validate(batch, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSplit(b *testing.B) {
	var all []byte
	for range 10 {
		all = append(all, buildTest(b, CodecNone, sampleRecords(10, 100))...)
	}
	b.SetBytes(int64(len(all)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(all); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateSmall measures Validate on an uncompressed batch of 1,000 100-byte
// records, where the per-record framing checks weigh more than the CRC.
func BenchmarkValidateSmall(b *testing.B) {
	batch := buildTest(b, CodecNone, sampleRecords(1000, 100))
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}
