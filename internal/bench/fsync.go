package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// FsyncConfig is the disk probe: append Size bytes to a file and fdatasync it, again and
// again, as the broker's group commit does, and record how long each sync takes. An
// acknowledgement that waits for an fsync can be no faster than this disk.
type FsyncConfig struct {
	// Dir is where the probe's file is created (and removed); use the data directory's disk.
	Dir string
	// Duration is how long the probe runs.
	Duration time.Duration
	// Size is the bytes appended before each sync.
	Size int
	// Pause is the time between a sync's end and the next append (0: back to back).
	Pause time.Duration
	// Stall is the sync duration from which a sync counts as a stall.
	Stall time.Duration
}

// DefaultFsync probes for 10 s with 4 KiB appends, back to back, counting syncs over 4 ms.
func DefaultFsync() FsyncConfig {
	return FsyncConfig{Dir: os.TempDir(), Duration: 10 * time.Second, Size: 4096, Stall: 4 * time.Millisecond}
}

// Validate says what is wrong with a probe configuration.
func (c FsyncConfig) Validate() error {
	var errs []error
	if c.Duration <= 0 {
		errs = append(errs, errors.New("duration must be positive"))
	}
	if c.Size < 1 || c.Size > 64<<20 {
		errs = append(errs, fmt.Errorf("size %d must be in [1, 64 MiB]", c.Size))
	}
	if c.Pause < 0 {
		errs = append(errs, errors.New("pause must not be negative"))
	}
	if c.Stall <= 0 {
		errs = append(errs, errors.New("stall threshold must be positive"))
	}
	return errors.Join(errs...)
}

// FsyncResult is what the probe measured.
type FsyncResult struct {
	Elapsed time.Duration
	Syncs   uint64
	P50     time.Duration
	P99     time.Duration
	P999    time.Duration
	Max     time.Duration
	// Stalls counts the syncs of at least Stall, StallTime adds up their durations.
	Stalls    int
	StallTime time.Duration
}

// StallShare is the fraction of the run spent inside stalled syncs: writes acknowledged
// after a sync wait through them, so a p99 below the stall threshold needs this under 1%.
func (r FsyncResult) StallShare() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.StallTime) / float64(r.Elapsed)
}

// RunFsync runs the probe until cfg.Duration has passed or ctx ends.
func RunFsync(ctx context.Context, cfg FsyncConfig) (FsyncResult, error) {
	var res FsyncResult
	f, err := os.CreateTemp(cfg.Dir, "chronik-fsync-probe-*")
	if err != nil {
		return res, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, cfg.Size)
	var h hist
	start := time.Now()
	for off := int64(0); time.Since(start) < cfg.Duration && ctx.Err() == nil; off += int64(len(buf)) {
		t := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			return res, err
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil { // as the WAL and the segments do
			return res, err
		}
		d := time.Since(t)
		h.add(d)
		if d >= cfg.Stall {
			res.Stalls++
			res.StallTime += d
		}
		if cfg.Pause > 0 {
			time.Sleep(cfg.Pause)
		}
	}
	res.Elapsed = time.Since(start)
	res.Syncs = h.count()
	res.P50, res.P99, res.P999 = h.quantile(0.5), h.quantile(0.99), h.quantile(0.999)
	res.Max = time.Duration(h.max.Load())
	return res, nil
}

// WriteFsyncMarkdown reports a probe run.
func WriteFsyncMarkdown(w io.Writer, m Machine, cfg FsyncConfig, r FsyncResult) {
	fmt.Fprintf(w, "Machine: %s, %d cores, %s, Linux %s. Directory %s.\n\n", orUnknown(m.CPU), m.Cores, m.OS, orUnknown(m.Kernel), cfg.Dir)
	fmt.Fprintf(w, "Each step appends %d B to one file and syncs it (pause %v between steps), for %v. A stall is a sync of %v or more.\n\n",
		cfg.Size, cfg.Pause, cfg.Duration, cfg.Stall)
	fmt.Fprintln(w, "| syncs | syncs/s | p50 | p99 | p99.9 | max | stalls | time in stalls |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	fmt.Fprintf(w, "| %d | %.0f | %s | %s | %s | %s | %d | %.2f%% |\n\n", r.Syncs, float64(r.Syncs)/r.Elapsed.Seconds(),
		fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.P999), fmtDur(r.Max), r.Stalls, 100*r.StallShare())
}
