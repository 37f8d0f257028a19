package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"golang.org/x/sys/unix"
)

// Options configure a WAL.
type Options struct {
	// SegmentBytes is the preallocated size of one WAL file; a file rolls when the next
	// commit would not fit. Default 64 MiB.
	SegmentBytes int64
	// NoSync skips fsync (tests that simulate crashes control durability themselves).
	NoSync bool
}

// GroupState is what recovery returns for one group: its latest hard state, its
// compaction point, and its entries after the compaction point (contiguous, in order).
type GroupState struct {
	HardState  raftpb.HardState
	Compaction Compaction
	Entries    []raftpb.Entry
}

// WAL is the node write-ahead log. Commit is safe for concurrent use; concurrent commits
// share one write and one fsync.
type WAL struct {
	dir  string
	opts Options

	mu         sync.Mutex
	cond       *sync.Cond
	pend       []byte
	pendUpd    []stateUpdate
	spare      []byte
	nextTicket uint64 // round that data appended now will be synced in
	durable    uint64 // last round made durable
	syncing    bool
	err        error
	closed     bool

	// Owned by the goroutine that holds syncing.
	file *os.File
	off  int64

	deleteMu sync.Mutex
	toDelete []string
	deleting bool
	deleteWG sync.WaitGroup
	stats    syncStats
	files    []*fileInfo
	groups   map[uint64]*groupMeta
}

// groupMeta is the WAL's memory of one group, written at the head of every new file so
// that older files are only needed for their entries.
type groupMeta struct {
	hs      raftpb.HardState
	compact Compaction
}

// fileInfo tracks, for one file, the highest entry index of each group written in it.
type fileInfo struct {
	seq    uint64
	maxIdx map[uint64]uint64
}

func fileName(seq uint64) string { return fmt.Sprintf("%016d.wal", seq) }

// Open opens the WAL in dir (creating it), replays every file and returns the state of
// every group. A torn or corrupt tail of the last file is cut off; damage anywhere else
// is an error wrapping ErrCorrupt, and nothing is changed on disk.
func Open(dir string, opts Options) (*WAL, map[uint64]*GroupState, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	w := &WAL{dir: dir, opts: opts, nextTicket: 1, groups: map[uint64]*groupMeta{}}
	w.cond = sync.NewCond(&w.mu)
	seqs, err := listSeqs(dir)
	if err != nil {
		return nil, nil, err
	}
	states := map[uint64]*GroupState{}
	for i, seq := range seqs {
		last := i == len(seqs)-1
		fi, end, err := replayFile(filepath.Join(dir, fileName(seq)), seq, last, states)
		if err != nil {
			return nil, nil, err
		}
		w.files = append(w.files, fi)
		if last {
			if w.file, err = os.OpenFile(filepath.Join(dir, fileName(seq)), os.O_RDWR, 0o644); err != nil {
				return nil, nil, err
			}
			w.off = end
		}
	}
	for g, st := range states {
		w.groups[g] = &groupMeta{hs: st.HardState, compact: st.Compaction}
	}
	if w.file == nil {
		if err := w.roll(1); err != nil {
			return nil, nil, err
		}
	}
	return w, states, nil
}

func listSeqs(dir string) ([]uint64, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, n := range names {
		var seq uint64
		if _, err := fmt.Sscanf(filepath.Base(n), "%016d.wal", &seq); err == nil {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// Commit writes the batch and returns once it is durable. Concurrent callers are written
// and synced together: whoever finds no sync in progress syncs for everyone waiting.
func (w *WAL) Commit(b *Batch) error {
	if b.Empty() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.queueLocked(b); err != nil {
		return err
	}
	ticket := w.nextTicket
	for w.durable < ticket && w.err == nil {
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		buf, upd := w.pend, w.pendUpd
		w.pend, w.pendUpd, w.spare = w.spare[:0], nil, nil
		round := w.nextTicket
		w.nextTicket++
		w.mu.Unlock()
		err := w.writeAndSync(buf, upd)
		w.mu.Lock()
		w.spare = buf[:0]
		w.syncing = false
		if err != nil {
			w.err = fmt.Errorf("wal: %w", err)
		} else {
			w.durable = round
		}
		w.cond.Broadcast()
	}
	return w.err
}

// CommitLazy queues the batch to be written with the next Commit, without waiting and
// without asking for a sync of its own. For records whose loss in a crash is harmless
// (a raised commit index); they are still written in order with everything else.
func (w *WAL) CommitLazy(b *Batch) error {
	if b.Empty() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.queueLocked(b); err != nil {
		return err
	}
	return w.err
}

// queueLocked appends the batch to what the next sync writes. Call with mu held.
func (w *WAL) queueLocked(b *Batch) error {
	if w.closed {
		return errors.New("wal: closed")
	}
	w.pend = append(w.pend, b.buf...)
	w.pendUpd = append(w.pendUpd, b.updates...)
	return nil
}

// writeAndSync runs with syncing held: it records the batch's state updates, rolls the
// file when needed, writes and fsyncs.
func (w *WAL) writeAndSync(buf []byte, upd []stateUpdate) error {
	if w.off+int64(len(buf)) > w.opts.SegmentBytes && w.off > 0 {
		if err := w.roll(w.files[len(w.files)-1].seq + 1); err != nil {
			return err
		}
	}
	cur := w.files[len(w.files)-1]
	for _, u := range upd {
		switch {
		case u.remove:
			delete(w.groups, u.group)
		case u.hs != nil:
			w.meta(u.group).hs = *u.hs
		case u.compact != nil:
			w.meta(u.group).compact = *u.compact
		default:
			w.meta(u.group)
			if u.maxIdx > cur.maxIdx[u.group] {
				cur.maxIdx[u.group] = u.maxIdx
			}
		}
	}
	if _, err := w.file.WriteAt(buf, w.off); err != nil {
		return err
	}
	w.off += int64(len(buf))
	if w.opts.NoSync {
		return nil
	}
	start := time.Now()
	err := unix.Fdatasync(int(w.file.Fd()))
	w.stats.record(time.Since(start), len(buf))
	return err
}

func (w *WAL) meta(g uint64) *groupMeta {
	m := w.groups[g]
	if m == nil {
		m = &groupMeta{}
		w.groups[g] = m
	}
	return m
}

// roll starts file seq: preallocates it, writes the head (every group's compaction point
// and hard state), syncs it and the directory, then drops files no longer needed.
func (w *WAL) roll(seq uint64) error {
	path := filepath.Join(w.dir, fileName(seq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, w.opts.SegmentBytes); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		f.Close()
		return err
	}
	var head Batch
	for g, m := range w.groups {
		head.appendCompact(g, m.compact)
		if m.hs.Term != 0 || m.hs.Commit != 0 || m.hs.Vote != 0 {
			head.HardState(g, m.hs)
		}
	}
	if _, err := f.WriteAt(head.buf, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	if w.file != nil {
		w.file.Close()
	}
	w.file, w.off = f, int64(len(head.buf))
	w.files = append(w.files, &fileInfo{seq: seq, maxIdx: map[uint64]uint64{}})
	return w.dropObsolete()
}

// dropObsolete retires the oldest files while every entry they hold is at or below its
// group's compaction point (or its group is gone). The current file is never retired.
// Unlinking a large file can take hundreds of milliseconds on a busy disk, so retired
// files are deleted by a background goroutine, off the commit path; a file a crash left
// undeleted is replayed harmlessly (its entries are below the compaction points).
func (w *WAL) dropObsolete() error {
	for len(w.files) > 1 {
		fi := w.files[0]
		for g, idx := range fi.maxIdx {
			if m, ok := w.groups[g]; ok && m.compact.Index < idx {
				return nil
			}
		}
		w.retire(filepath.Join(w.dir, fileName(fi.seq)))
		w.files = w.files[1:]
	}
	return nil
}

// retire queues a file for deletion.
func (w *WAL) retire(path string) {
	w.deleteMu.Lock()
	defer w.deleteMu.Unlock()
	w.toDelete = append(w.toDelete, path)
	if !w.deleting {
		w.deleting = true
		w.deleteWG.Add(1)
		go w.deleteRetired()
	}
}

// deleteRetired unlinks retired files until none are queued.
func (w *WAL) deleteRetired() {
	defer w.deleteWG.Done()
	for {
		w.deleteMu.Lock()
		if len(w.toDelete) == 0 {
			w.deleting = false
			w.deleteMu.Unlock()
			return
		}
		path := w.toDelete[0]
		w.toDelete = w.toDelete[1:]
		w.deleteMu.Unlock()
		_ = os.Remove(path) // a file left behind is replayed harmlessly at the next start
	}
}

// Files reports how many WAL files exist (for metrics and tests).
func (w *WAL) Files() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.syncing {
		w.cond.Wait()
	}
	return len(w.files)
}

// Close waits for a sync in progress and closes the file. Later commits fail.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.syncing {
		w.cond.Wait()
	}
	if w.closed {
		return nil
	}
	w.closed = true
	w.cond.Broadcast()
	w.deleteWG.Wait()
	return w.file.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
