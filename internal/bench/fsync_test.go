package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// A short probe syncs at least once, orders its quantiles, leaves no file behind and
// reports in markdown. No timing is asserted.
func TestFsyncProbe(t *testing.T) {
	cfg := DefaultFsync()
	cfg.Dir, cfg.Duration = t.TempDir(), 100*time.Millisecond
	res, err := RunFsync(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Syncs == 0 || res.P50 > res.P99 || res.P99 > res.P999 || res.P999 > res.Max || res.StallShare() < 0 || res.StallShare() > 1 {
		t.Fatalf("result %+v", res)
	}
	if left, _ := os.ReadDir(cfg.Dir); len(left) != 0 {
		t.Fatalf("the probe left %d files", len(left))
	}
	var md bytes.Buffer
	WriteFsyncMarkdown(&md, ThisMachine(), cfg, res)
	if !strings.Contains(md.String(), "| syncs |") {
		t.Fatalf("report:\n%s", md.String())
	}
	if err := (FsyncConfig{Duration: time.Second, Size: 1, Stall: -1}).Validate(); err == nil {
		t.Fatal("a negative stall threshold was accepted")
	}
}
