package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

func ents(term uint64, from, to uint64) []raftpb.Entry {
	var out []raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, raftpb.Entry{Term: term, Index: i, Data: []byte(fmt.Sprintf("e%d-%d", term, i))})
	}
	return out
}

func commit(t *testing.T, w *WAL, fill func(b *Batch)) {
	t.Helper()
	var b Batch
	fill(&b)
	if err := w.Commit(&b); err != nil {
		t.Fatal(err)
	}
}

func reopen(t *testing.T, w *WAL, dir string, opts Options) (*WAL, map[uint64]*GroupState) {
	t.Helper()
	if w != nil {
		w.Close()
	}
	w2, st, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w2.Close() })
	return w2, st
}

func indexes(es []raftpb.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Index)
	}
	return out
}

func TestReplayTruncationCompactionRemoval(t *testing.T) {
	dir := t.TempDir()
	w, _ := reopen(t, nil, dir, Options{})
	commit(t, w, func(b *Batch) {
		b.Compact(1, Compaction{Index: 1, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}})
		b.Entries(1, ents(1, 2, 6))
		b.HardState(1, raftpb.HardState{Term: 1, Vote: 1, Commit: 4})
		b.Entries(2, ents(1, 1, 3))
	})
	// Term 2 rewrites the tail of group 1 from index 5.
	commit(t, w, func(b *Batch) { b.Entries(1, ents(2, 5, 7)) })
	commit(t, w, func(b *Batch) { b.Compact(1, Compaction{Index: 3, Term: 1}) })
	commit(t, w, func(b *Batch) { b.Remove(2) })

	_, st := reopen(t, w, dir, Options{})
	if _, ok := st[2]; ok {
		t.Fatal("removed group 2 came back")
	}
	g := st[1]
	if got := indexes(g.Entries); fmt.Sprint(got) != "[4 5 6 7]" {
		t.Fatalf("entries %v", got)
	}
	if g.Entries[1].Term != 2 || !bytes.Equal(g.Entries[3].Data, []byte("e2-7")) {
		t.Fatalf("tail not rewritten: %+v", g.Entries)
	}
	if g.HardState.Commit != 4 || g.HardState.Vote != 1 || g.Compaction.Index != 3 {
		t.Fatalf("state %+v", g)
	}
}

func TestTornTailEveryPosition(t *testing.T) {
	dir := t.TempDir()
	w, _ := reopen(t, nil, dir, Options{SegmentBytes: 1 << 16})
	commit(t, w, func(b *Batch) { b.Entries(7, ents(1, 1, 3)) })
	commit(t, w, func(b *Batch) { b.Entries(7, ents(1, 4, 4)) })
	w.Close()
	path := filepath.Join(dir, fileName(1))
	orig, _ := os.ReadFile(path)
	end := len(orig)
	for end > 0 && orig[end-1] == 0 {
		end--
	}
	var b Batch
	b.Entries(7, ents(1, 4, 4))
	lastStart := end - b.Len()
	for cut := lastStart; cut < end; cut++ {
		torn := append([]byte(nil), orig[:cut]...)
		torn = append(torn, bytes.Repeat([]byte{0xAB}, 3)...) // garbage where the record was
		if err := os.WriteFile(path, torn, 0o644); err != nil {
			t.Fatal(err)
		}
		w2, st, err := Open(dir, Options{SegmentBytes: 1 << 16})
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if got := indexes(st[7].Entries); fmt.Sprint(got) != "[1 2 3]" {
			t.Fatalf("cut %d: entries %v", cut, got)
		}
		// New commits after recovery land where the torn record was and replay cleanly.
		commit(t, w2, func(b *Batch) { b.Entries(7, ents(2, 4, 5)) })
		w2.Close()
		_, st, err = Open(dir, Options{SegmentBytes: 1 << 16})
		if err != nil || fmt.Sprint(indexes(st[7].Entries)) != "[1 2 3 4 5]" {
			t.Fatalf("cut %d: after rewrite %v %v", cut, err, st[7])
		}
	}
}

func TestCorruptionInOlderFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	w, _ := reopen(t, nil, dir, Options{SegmentBytes: 4096})
	for i := uint64(1); i <= 40; i++ {
		commit(t, w, func(b *Batch) { b.Entries(1, []raftpb.Entry{{Term: 1, Index: i, Data: make([]byte, 500)}}) })
	}
	w.Close()
	path := filepath.Join(dir, fileName(1))
	data, _ := os.ReadFile(path)
	data[100] ^= 0xFF
	os.WriteFile(path, data, 0o644)
	if _, _, err := Open(dir, Options{SegmentBytes: 4096}); err == nil {
		t.Fatal("corrupt older file accepted")
	}
}

func TestRollKeepsStateAndDropsCompactedFiles(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4096}
	w, _ := reopen(t, nil, dir, opts)
	for i := uint64(1); i <= 60; i++ {
		commit(t, w, func(b *Batch) {
			b.Entries(1, []raftpb.Entry{{Term: 1, Index: i, Data: make([]byte, 300)}})
			b.HardState(1, raftpb.HardState{Term: 1, Vote: 1, Commit: i})
		})
	}
	if w.Files() < 4 {
		t.Fatalf("expected several files, have %d", w.Files())
	}
	commit(t, w, func(b *Batch) { b.Compact(1, Compaction{Index: 55, Term: 1}) })
	// The next roll drops every file whose entries are all compacted.
	for i := uint64(61); i <= 75; i++ {
		commit(t, w, func(b *Batch) { b.Entries(1, []raftpb.Entry{{Term: 1, Index: i, Data: make([]byte, 300)}}) })
	}
	if w.Files() > 3 {
		t.Fatalf("old files kept: %d", w.Files())
	}
	_, st := reopen(t, w, dir, opts)
	g := st[1]
	if g.HardState.Commit != 60 || g.Compaction.Index != 55 || g.Entries[0].Index != 56 || g.Entries[len(g.Entries)-1].Index != 75 {
		t.Fatalf("state after roll: hs %+v compact %+v entries %v", g.HardState, g.Compaction, indexes(g.Entries))
	}
}

func TestConcurrentCommitsShareSyncs(t *testing.T) {
	dir := t.TempDir()
	w, _ := reopen(t, nil, dir, Options{})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for g := uint64(1); g <= writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(1); i <= each; i++ {
				var b Batch
				b.Entries(g, []raftpb.Entry{{Term: 1, Index: i, Data: []byte("x")}})
				if err := w.Commit(&b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if w.durable >= writers*each {
		t.Logf("no sync was shared (%d rounds)", w.durable)
	}
	_, st := reopen(t, w, dir, Options{})
	for g := uint64(1); g <= writers; g++ {
		if len(st[g].Entries) != each {
			t.Fatalf("group %d has %d entries", g, len(st[g].Entries))
		}
	}
}

func FuzzReplay(f *testing.F) {
	var b Batch
	b.Compact(1, Compaction{Index: 1, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1}}})
	b.Entries(1, ents(1, 2, 4))
	b.HardState(1, raftpb.HardState{Term: 1, Commit: 3})
	f.Add(b.buf)
	f.Add([]byte{0, 0, 0, 9, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fileName(1)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		w, st, err := Open(dir, Options{SegmentBytes: 1 << 16, NoSync: true})
		if err != nil {
			return
		}
		defer w.Close()
		for _, g := range st {
			for i := 1; i < len(g.Entries); i++ {
				if g.Entries[i].Index != g.Entries[i-1].Index+1 {
					t.Fatalf("non-contiguous entries %v", indexes(g.Entries))
				}
			}
		}
	})
}

func BenchmarkCommit16KiB(b *testing.B) {
	w, _, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	data := make([]byte, 16<<10)
	b.SetBytes(int64(len(data)))
	b.RunParallel(func(pb *testing.PB) {
		var batch Batch
		i := uint64(0)
		for pb.Next() {
			i++
			batch.Reset()
			batch.Entries(1, []raftpb.Entry{{Term: 1, Index: i, Data: data}})
			if err := w.Commit(&batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
