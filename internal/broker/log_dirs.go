package broker

import (
	"path/filepath"
	"syscall"

	"github.com/chronik-stream/chronik/internal/kafka"
)

// LogDirs implements kafka.Backend: one data directory holding every local partition.
func (b *Broker) LogDirs() []kafka.LogDirInfo {
	path, err := filepath.Abs(b.cfg.DataDir)
	if err != nil {
		path = b.cfg.DataDir
	}
	d := kafka.LogDirInfo{Path: path, TotalBytes: -1, UsableBytes: -1, Topics: map[string][]kafka.LogDirPartition{}}
	var st syscall.Statfs_t
	if syscall.Statfs(path, &st) == nil {
		d.TotalBytes = int64(st.Blocks) * st.Bsize
		d.UsableBytes = int64(st.Bavail) * st.Bsize
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, r := range b.replicas {
		d.Topics[r.topic] = append(d.Topics[r.topic], kafka.LogDirPartition{Partition: r.index, Size: r.p.Size()})
	}
	return []kafka.LogDirInfo{d}
}
