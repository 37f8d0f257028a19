package bench

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProcKB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meminfo")
	const meminfo = "MemTotal:       24557000 kB\nMemFree:          812344 kB\nMemAvailable:    1536000 kB\nBad:    x kB\nUnit:    12 MB\nThreads:\t7\n"
	if err := os.WriteFile(path, []byte(meminfo), 0o644); err != nil {
		t.Fatal(err)
	}
	if kb, ok := procKB(path, "MemAvailable"); !ok || kb != 1536000 {
		t.Fatalf("procKB(MemAvailable) = %d, %v; want 1536000, true", kb, ok)
	}
	for _, key := range []string{"Missing", "Bad", "Unit", "Threads"} {
		if kb, ok := procKB(path, key); ok {
			t.Errorf("procKB(%s) = %d, true; want false", key, kb)
		}
	}
	if _, ok := procKB(filepath.Join(t.TempDir(), "none"), "MemTotal"); ok {
		t.Error("procKB of a missing file reported ok")
	}
}
