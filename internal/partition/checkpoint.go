package partition

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	plog "github.com/chronik-stream/chronik/internal/log"
)

// checkpointFile holds a partition's last checkpoint inside its directory.
const checkpointFile = "replica-checkpoint.json"

// checkpoint is the durable state of a partition replica at an applied raft index. It is
// also the raft snapshot of the partition's group.
type checkpoint struct {
	Applied     uint64                   `json:"applied"`
	EndOffset   int64                    `json:"end_offset"`
	StartOffset int64                    `json:"start_offset"`
	Producers   map[int64]*producerState `json:"producers,omitempty"`
	// MaxTimestamp is the largest batch timestamp below EndOffset, in the first batch
	// (at MaxTimestampBatch) that has it; nil when no committed batch has one.
	MaxTimestamp      *int64 `json:"max_timestamp,omitempty"`
	MaxTimestampBatch int64  `json:"max_timestamp_batch,omitempty"`
}

// checkpointMaxTimestamp is the largest timestamp below the checkpoint's end offset: the
// checkpoint's own, or for a checkpoint written without one, the log's when that lies
// below the end offset (otherwise none: the entries replayed after it count from there).
func checkpointMaxTimestamp(cp checkpoint, l *plog.Log) maxTimestamp {
	if cp.MaxTimestamp != nil {
		return maxTimestamp{ts: *cp.MaxTimestamp, batch: cp.MaxTimestampBatch}
	}
	if ts, off, ok := l.MaxTimestamp(); ok && off < cp.EndOffset {
		return maxTimestamp{ts: ts, batch: off}
	}
	return noMaxTimestamp
}

func encodeCheckpoint(cp checkpoint) ([]byte, error) { return json.Marshal(cp) }

func decodeCheckpoint(b []byte) (checkpoint, error) {
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return cp, fmt.Errorf("partition checkpoint: %w", err)
	}
	if cp.EndOffset < 0 || cp.StartOffset < 0 || cp.StartOffset > cp.EndOffset {
		return cp, fmt.Errorf("partition checkpoint: offsets out of order (start %d, end %d)", cp.StartOffset, cp.EndOffset)
	}
	if cp.MaxTimestamp != nil && (cp.MaxTimestampBatch < 0 || cp.MaxTimestampBatch >= cp.EndOffset) {
		return cp, fmt.Errorf("partition checkpoint: largest timestamp in a batch at %d, outside [0, %d)", cp.MaxTimestampBatch, cp.EndOffset)
	}
	return cp, nil
}

// readCheckpoint reads the checkpoint; a missing file is an empty partition.
func readCheckpoint(dir string) (checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if os.IsNotExist(err) {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, err
	}
	return decodeCheckpoint(b)
}

// writeCheckpoint replaces the checkpoint atomically and durably.
func writeCheckpoint(dir string, data []byte) error {
	return WriteFileAtomic(filepath.Join(dir, checkpointFile), data)
}

// WriteFileAtomic writes path through a temporary file, fsyncs it, renames it into place
// and fsyncs the directory, so a crash leaves either the old or the new content.
func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
