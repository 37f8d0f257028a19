package partition

import (
	"bytes"
	"testing"

	"github.com/chronik-stream/chronik/internal/replication"
	"go.etcd.io/raft/v3/raftpb"
)

// FuzzLoad feeds Load the WAL entries of a partition whose log holds two stored batches,
// with one entry's data replaced by fuzz bytes (a damaged descriptor): Load must not
// panic, keep a prefix of the entries, and every entry it keeps must read back exactly
// the batch bytes of the log.
func FuzzLoad(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(append(make([]byte, replication.HeaderRoom), cmdStored, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80), uint8(1))
	f.Add(append(make([]byte, replication.HeaderRoom), cmdDuplicate, 1, 2, 3), uint8(2))
	f.Add(append(make([]byte, replication.HeaderRoom), cmdStored, 0, 0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, at uint8) {
		p := openEmpty(t)
		batches := [][]byte{testBatch(t, -1, 0, "a", "b"), testBatch(t, 1, 0, "c")}
		var ents []raftpb.Entry
		for i, b := range batches {
			e := raftpb.Entry{Index: uint64(2 + i), Term: 1, Data: EncodeProduce(replication.HeaderRoom, b, -1)}
			if _, _, done := p.Prepare(0, e.Data[replication.HeaderRoom:]); done {
				t.Fatal("prepare refused a valid batch")
			}
			stored, err := p.Store([]raftpb.Entry{e})
			if err != nil {
				t.Fatal(err)
			}
			ents = append(ents, stored[0])
		}
		fuzzed := raftpb.Entry{Index: 2 + uint64(at%3), Term: 1, Data: data}
		ents = append(ents[:at%3], fuzzed)
		n, err := p.Load(ents)
		if err != nil {
			return // a clear error, no panic
		}
		if n > len(ents) {
			t.Fatalf("Load kept %d of %d entries", n, len(ents))
		}
		for i := 0; i < n && i < int(at%3); i++ {
			if ents[i].Data[replication.HeaderRoom] != cmdProduce || !bytes.Equal(ents[i].Data[replication.HeaderRoom+9:], batchAt(t, p, i)) {
				t.Fatalf("entry %d did not load its batch", i)
			}
		}
	})
}

// batchAt reads the i-th batch of the log (offsets 0-1, then 2).
func batchAt(t *testing.T, p *Partition, i int) []byte {
	t.Helper()
	b, err := p.log.Read(int64(2*i), 1)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
