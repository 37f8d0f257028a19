package log

import (
	"bytes"
	"math"
	"testing"
	"time"
)

// Retention never deletes a segment that holds offsets at or past keepFrom.
func TestEnforceRetentionKeepsFrom(t *testing.T) {
	dir, _ := buildLog(t, 60)
	l := mustOpen(t, dir, recCfg)
	defer l.Close()
	if len(l.segs) < 4 {
		t.Fatalf("bad test: %d segments", len(l.segs))
	}
	keepFrom := l.segs[2].base + 1 // inside the third segment
	n, err := l.EnforceRetention(time.Now(), -1, 0, keepFrom)
	if err != nil || n != 2 {
		t.Fatalf("EnforceRetention = %d, %v; want the 2 segments before offset %d", n, err, keepFrom)
	}
	if l.StartOffset() > keepFrom {
		t.Fatalf("start offset %d passed %d", l.StartOffset(), keepFrom)
	}
	if n, err := l.EnforceRetention(time.Now(), -1, 0, math.MaxInt64); err != nil || n == 0 {
		t.Fatalf("without a limit: %d, %v", n, err)
	}
}

// Synced data more than CacheBytes behind the end of the log is dropped from the page
// cache, in whole dropChunk steps, and reads of it still return the data (from disk).
func TestSyncDropsCacheBehindWindow(t *testing.T) {
	cfg := Config{SegmentBytes: 8 << 20, CacheBytes: 2 << 20}
	l := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()
	q := &seq{}
	for l.Size() < 7<<20 {
		mustAppend(t, l, q.add(10, 1, 64<<10))
	}
	if err := l.SyncData(); err != nil {
		t.Fatal(err)
	}
	s := l.active()
	if want := s.size - cfg.CacheBytes; s.uncached < want-dropChunk || s.uncached > want {
		t.Fatalf("dropped %d bytes of %d, want about %d", s.uncached, s.size, want)
	}
	for l.segs[len(l.segs)-1] == s { // roll: the old segment's data is dropped behind the window too
		mustAppend(t, l, q.add(10, 1, 64<<10))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if s.uncached < s.size-cfg.CacheBytes {
		t.Fatalf("rolled segment: dropped %d of %d bytes", s.uncached, s.size)
	}
	if got := readAllFrom(t, l, 0, 1<<20); !bytes.Equal(got, q.all()) {
		t.Fatal("data read back after dropping the cache differs")
	}

	keepAll := mustOpen(t, t.TempDir(), Config{CacheBytes: -1})
	defer keepAll.Close()
	mustAppend(t, keepAll, mkBatch(0, 10, 1, 4<<20))
	if err := keepAll.SyncData(); err != nil || keepAll.active().uncached != 0 {
		t.Fatalf("CacheBytes < 0 dropped %d bytes (%v)", keepAll.active().uncached, err)
	}
}
