package record

import (
	"bytes"
	"errors"
	"testing"
)

func TestSplit(t *testing.T) {
	b1 := buildTest(t, CodecNone, sampleRecords(3, 10))
	b2 := buildTest(t, CodecZstd, sampleRecords(5, 100))
	b3 := buildTest(t, codecXerial, sampleRecords(1, 10))
	SetBaseOffset(b2, 3)
	SetBaseOffset(b3, 8)
	all := bytes.Join([][]byte{b1, b2, b3}, nil)

	batches, err := Split(all)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{b1, b2, b3}
	if len(batches) != 3 {
		t.Fatalf("%d batches", len(batches))
	}
	for i, b := range batches {
		if !bytes.Equal(b.Bytes, want[i]) || cap(b.Bytes) != len(b.Bytes) || b.Header.TotalSize() != len(want[i]) {
			t.Fatalf("batch %d differs", i)
		}
		if _, err := Validate(b.Bytes, 1<<20); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if batches[2].Header.BaseOffset != 8 || batches[1].Header.NumRecords != 5 {
		t.Fatalf("headers %+v", batches)
	}
	if &batches[0].Bytes[0] != &all[0] {
		t.Fatal("Split copied")
	}
	if got := SplitPartial(all); len(got) != 3 {
		t.Fatalf("SplitPartial: %d batches", len(got))
	}

	badMagic := bytes.Clone(all)
	badMagic[len(b1)+offMagic] = 1
	for _, c := range []struct {
		name    string
		in      []byte
		partial int
	}{
		{"truncated body", all[:len(all)-5], 2},
		{"truncated header", all[:len(b1)+len(b2)+30], 2},
		{"one stray byte", append(bytes.Clone(all), 0), 3},
		{"bad magic in the middle", badMagic, 1},
	} {
		if _, err := Split(c.in); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Split = %v", c.name, err)
		}
		got := SplitPartial(c.in)
		if len(got) != c.partial {
			t.Fatalf("%s: SplitPartial gave %d batches, want %d", c.name, len(got), c.partial)
		}
		for i, b := range got {
			if !bytes.Equal(b.Bytes, want[i]) {
				t.Fatalf("%s: partial batch %d differs", c.name, i)
			}
		}
	}
	if got, err := Split(nil); err != nil || len(got) != 0 {
		t.Fatalf("Split(nil) = %v, %v", got, err)
	}
	if got := SplitPartial(nil); len(got) != 0 {
		t.Fatalf("SplitPartial(nil) = %v", got)
	}
}
