package kafka

// DescribeLogDirs, versions 0-4.
//
// Answers every directory of Backend.LogDirs. A null Topics asks for every partition;
// otherwise only the requested partitions that the directory holds are listed (topics
// without any are left out). Topics and partitions are sorted. TotalBytes and UsableBytes
// are sent from v4, the top-level error code (always 0) from v3.

import (
	"context"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(35, 0, 4, handleDescribeLogDirs) }

func handleDescribeLogDirs(_ context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.DescribeLogDirsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)

	var want map[string]map[int32]bool // nil: everything
	if req.Topics != nil {
		want = make(map[string]map[int32]bool, len(req.Topics))
		for _, t := range req.Topics {
			if want[t.Topic] == nil {
				want[t.Topic] = make(map[int32]bool, len(t.Partitions))
			}
			for _, p := range t.Partitions {
				want[t.Topic][p] = true
			}
		}
	}

	for _, d := range s.backend.LogDirs() {
		rd := kmsg.NewDescribeLogDirsResponseDir()
		rd.Dir, rd.TotalBytes, rd.UsableBytes = d.Path, d.TotalBytes, d.UsableBytes
		names := make([]string, 0, len(d.Topics))
		for name := range d.Topics {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			rt := kmsg.NewDescribeLogDirsResponseDirTopic()
			rt.Topic = name
			for _, p := range d.Topics[name] {
				if want != nil && !want[name][p.Partition] {
					continue
				}
				rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
				rp.Partition, rp.Size, rp.OffsetLag = p.Partition, p.Size, p.OffsetLag
				rt.Partitions = append(rt.Partitions, rp)
			}
			if len(rt.Partitions) == 0 {
				continue
			}
			slices.SortFunc(rt.Partitions, func(a, b kmsg.DescribeLogDirsResponseDirTopicPartition) int {
				return int(a.Partition) - int(b.Partition)
			})
			rd.Topics = append(rd.Topics, rt)
		}
		resp.Dirs = append(resp.Dirs, rd)
	}
	return resp, nil
}
