package record

import (
	"fmt"
	"testing"
)

// checkWalk asserts that walkRecords gives exactly the slow walk's answer.
func checkWalk(t *testing.T, data []byte, n int32) {
	t.Helper()
	fast, slow := walkRecords(data, n), walk(data, n, false)
	if fmt.Sprint(fast) != fmt.Sprint(slow) {
		t.Fatalf("walkRecords(%x, %d) = %v, slow walk = %v", data, n, fast, slow)
	}
}

func recordsSection(t testing.TB, recs []Record) []byte {
	return buildTest(t, CodecNone, recs)[HeaderSize:]
}

func TestWalkRecordsMatchesParseRecord(t *testing.T) {
	big := make([]byte, 300) // a three-byte record length: not a plain record
	cases := map[string][]Record{
		"plain":           {{Value: []byte("v")}, {Key: []byte("k"), Value: []byte("value")}},
		"null key, empty": {{Key: nil, Value: []byte{}}, {Key: []byte{}, Value: nil}},
		"headers":         {{Value: []byte("v"), Headers: []RecordHeader{{Key: "h", Value: []byte("x")}}}},
		"large value":     {{Value: big}, {Value: []byte("v")}},
		"sample":          sampleRecords(200, 100),
	}
	for name, recs := range cases {
		t.Run(name, func(t *testing.T) {
			data := recordsSection(t, recs)
			n := int32(len(recs))
			if err := walkRecords(data, n); err != nil {
				t.Fatalf("valid records refused: %v", err)
			}
			for cut := range len(data) {
				checkWalk(t, data[:cut], n)
			}
			for i := range data {
				for _, v := range []byte{0x00, 0x7f, 0x80, 0xff} {
					c := append([]byte(nil), data...)
					c[i] = v
					checkWalk(t, c, n)
				}
			}
			checkWalk(t, data, n-1)
			checkWalk(t, data, n+1)
		})
	}
}

// TestSkipPlainRecordTakesCommonRecords guards the fast path itself: small records
// without headers must not fall back to parseRecord.
func TestSkipPlainRecordTakesCommonRecords(t *testing.T) {
	recs := make([]Record, 1000)
	for i := range recs {
		recs[i] = Record{Timestamp: 1_700_000_000_000 + int64(i/10), Value: make([]byte, 100)}
	}
	data := recordsSection(t, recs)
	pos := 0
	for i := range int32(len(recs)) {
		next := skipPlainRecord(data, pos, i)
		if next <= pos {
			t.Fatalf("record %d at %d not taken by the fast path", i, pos)
		}
		pos = next
	}
	if pos != len(data) {
		t.Fatalf("fast path ended at %d of %d", pos, len(data))
	}
}

func FuzzWalkRecords(f *testing.F) {
	f.Add(recordsSection(f, sampleRecords(8, 40)), int32(8))
	f.Add(recordsSection(f, []Record{{Value: []byte("v")}}), int32(1))
	f.Fuzz(func(t *testing.T, data []byte, n int32) {
		if n < 0 || n > 1<<16 {
			return
		}
		checkWalk(t, data, n)
	})
}
