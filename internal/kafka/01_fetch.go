package kafka

// Fetch (key 1): v4-v16.
//
// Behaviour:
//   - Every partition is read with Backend.Fetch, in request order (session order for
//     incremental fetches). The response budget MaxBytes is shared across partitions:
//     the first batch of the first partition that returns data is always whole (as Kafka,
//     KIP-74), later partitions get at most min(PartitionMaxBytes, what is left) and only
//     whole batches.
//   - MinBytes / MaxWaitMillis long polling: while fewer than MinBytes record bytes are
//     readable, no partition errors and MaxWait has not elapsed, the handler subscribes to
//     every requested partition (Backend.Subscribe), waits for a wake-up, the deadline or
//     the connection closing, and reads again. An error on any partition, a preferred
//     read replica, or no partitions at all answers at once.
//   - IsolationLevel, CurrentLeaderEpoch (v9+) and Rack (v11+, as ReplicaRack) are passed
//     to the Backend; PreferredReadReplica (v11+) comes from FetchResult.
//   - Fetch sessions (v7+) are described in fetch_session.go.
//   - v13+ address topics by id, resolved with Backend.TopicNameByID; an unknown id is
//     answered UNKNOWN_TOPIC_ID for its partitions.
//   - A partition with an error has high watermark, last stable offset and log start
//     offset -1. Record batches are never null (librdkafka rejects a null record set).
//   - No aborted-transaction lists (transactions are not supported), no diverging epoch
//     (v12 LastFetchedEpoch is ignored), no current-leader hints.

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(1, 4, 16, handleFetch) }

// fetchOut is one partition's answer with the target it answers.
type fetchOut struct {
	target fetchTarget
	part   kmsg.FetchResponseTopicPartition
}

func handleFetch(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.FetchRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.FetchResponse)

	fc, code := s.openFetch(req)
	if code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	resp.SessionID = fc.sessionID

	outs, err := s.fetchWait(ctx, req, fc.targets)
	if err != nil {
		return nil, err
	}
	outs = fc.finish(outs)

	// Group consecutive partitions of one topic under one response topic.
	for _, o := range outs {
		n := len(resp.Topics)
		if n == 0 || resp.Topics[n-1].Topic != o.target.topic || resp.Topics[n-1].TopicID != o.target.id {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = o.target.topic, o.target.id
			resp.Topics = append(resp.Topics, rt)
			n++
		}
		resp.Topics[n-1].Partitions = append(resp.Topics[n-1].Partitions, o.part)
	}
	return resp, nil
}

// fetchWait reads the targets, long polling until MinBytes are readable, MaxWait elapses
// or an early answer is due. It fails only when ctx is done.
func (s *Server) fetchWait(ctx context.Context, req *kmsg.FetchRequest, targets []fetchTarget) ([]fetchOut, error) {
	wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	deadline := time.Now().Add(wait)
	var (
		wake    chan struct{}
		timer   *time.Timer
		expired bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		outs, nbytes, early := s.fetchOnce(req, targets)
		if early || nbytes >= int(req.MinBytes) || len(targets) == 0 || expired || !time.Now().Before(deadline) {
			return outs, nil
		}
		if wake == nil {
			// Subscribe, then read again: data appended between the read above and
			// the subscription would otherwise go unnoticed until MaxWait.
			wake = make(chan struct{}, 1)
			signal := func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
			for _, t := range targets {
				if t.topic == "" {
					continue
				}
				cancel := s.backend.Subscribe(t.topic, t.key.partition, signal)
				defer cancel()
			}
			timer = time.NewTimer(time.Until(deadline))
			continue
		}
		select {
		case <-wake:
		case <-timer.C:
			expired = true
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// fetchOnce reads every target once without blocking. It returns the answers, the
// record bytes gathered, and whether the fetch must be answered now (an error or a
// preferred read replica).
func (s *Server) fetchOnce(req *kmsg.FetchRequest, targets []fetchTarget) (outs []fetchOut, nbytes int, early bool) {
	outs = make([]fetchOut, 0, len(targets))
	budget := int(req.MaxBytes)
	for _, t := range targets {
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition = t.key.partition
		p.RecordBatches = []byte{}
		p.PreferredReadReplica = -1
		if t.topic == "" {
			code := kerr.UnknownTopicOrPartition.Code
			if req.Version >= 13 {
				code = kerr.UnknownTopicID.Code
			}
			fetchErr(&p, code)
			outs = append(outs, fetchOut{target: t, part: p})
			early = true
			continue
		}

		limit := int(t.maxBytes)
		if nbytes > 0 {
			limit = min(limit, budget)
		}
		fp := FetchPartition{
			Topic:              t.topic,
			Partition:          t.key.partition,
			Offset:             t.offset,
			MaxBytes:           int32(max(limit, 0)),
			Isolation:          req.IsolationLevel,
			CurrentLeaderEpoch: t.leaderEpoch,
		}
		if req.Version >= 11 {
			fp.ReplicaRack = req.Rack
		}
		res, err := s.backend.Fetch(fp)
		if err != nil {
			fetchErr(&p, errCode(err))
			outs = append(outs, fetchOut{target: t, part: p})
			early = true
			continue
		}
		recs := res.Records
		if nbytes > 0 && len(recs) > limit {
			recs = wholeBatches(recs, limit)
		}
		if len(recs) > 0 {
			p.RecordBatches = recs
		}
		nbytes += len(recs)
		budget -= len(recs)
		p.HighWatermark = res.HighWatermark
		p.LastStableOffset = res.LastStableOffset
		p.LogStartOffset = res.LogStartOffset
		if req.Version >= 11 && res.PreferredReadReplica >= 0 {
			p.PreferredReadReplica = res.PreferredReadReplica
			early = true
		}
		outs = append(outs, fetchOut{target: t, part: p})
	}
	return outs, nbytes, early
}

// fetchErr fills a partition answer for an error.
func fetchErr(p *kmsg.FetchResponseTopicPartition, code int16) {
	p.ErrorCode = code
	p.HighWatermark, p.LastStableOffset, p.LogStartOffset = -1, -1, -1
}

// wholeBatches returns the longest prefix of b made of whole record batches and at most
// limit bytes long. Batches are framed by their base offset (8 bytes) and length (4).
func wholeBatches(b []byte, limit int) []byte {
	n := 0
	for n+12 <= len(b) {
		size := 12 + int(int32(binary.BigEndian.Uint32(b[n+8:])))
		if size < 12 || n+size > len(b) || n+size > limit {
			break
		}
		n += size
	}
	return b[:n]
}
