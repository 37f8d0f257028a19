package kafka

// CreateTopics, versions 0-7.
//
// Each topic becomes one Backend.CreateTopic call (validate-only from v1 when the request
// asks), bounded by the request's TimeoutMillis (<= 0: no bound of its own). Topics named
// more than once get INVALID_REQUEST (one entry per name) and are not created; the others
// are. NumPartitions and ReplicationFactor of -1 ask for the broker defaults; a
// ReplicaAssignment requires both to be -1 and partitions 0..n-1 with non-empty, duplicate
// free replica lists (else INVALID_REQUEST / INVALID_REPLICA_ASSIGNMENT). A null config
// value is INVALID_CONFIG. Every topic answer carries an error message (v1+); successful
// ones (v5+) carry the partition count, replication factor and configs from the returned
// TopicInfo, and (v7+) the topic id.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.CreateTopicsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	ctx, cancel := withRequestTimeout(ctx, req.TimeoutMillis)
	defer cancel()

	count := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		count[t.Topic]++
	}
	answered := make(map[string]bool, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		if answered[rt.Topic] {
			continue
		}
		answered[rt.Topic] = true
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		if count[rt.Topic] > 1 {
			setCreateTopicErr(&st, adminErrorf(kerr.InvalidRequest, "duplicate topic name %q", rt.Topic))
		} else {
			createOneTopic(ctx, s, rt, req.Version >= 1 && req.ValidateOnly, &st)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// createOneTopic validates and creates one topic, filling st with the outcome.
func createOneTopic(ctx context.Context, s *Server, rt *kmsg.CreateTopicsRequestTopic, validateOnly bool, st *kmsg.CreateTopicsResponseTopic) {
	spec, err := topicSpec(rt)
	if err != nil {
		setCreateTopicErr(st, err)
		return
	}
	info, err := s.backend.CreateTopic(ctx, spec, validateOnly)
	if err == nil {
		err = info.Err
	}
	if err != nil {
		setCreateTopicErr(st, err)
		return
	}
	st.TopicID = info.ID
	st.NumPartitions, st.ReplicationFactor = spec.Partitions, spec.ReplicationFactor
	if n := len(info.Partitions); n > 0 {
		st.NumPartitions = int32(n)
		st.ReplicationFactor = int16(len(info.Partitions[0].Replicas))
	}
	for _, c := range info.Configs {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name, rc.ReadOnly, rc.Source, rc.IsSensitive = c.Name, c.ReadOnly, c.Source, c.Sensitive
		if !c.Sensitive {
			rc.Value = c.Value
		}
		st.Configs = append(st.Configs, rc)
	}
}

// setCreateTopicErr answers a topic with err, leaving the v5+ fields at "unknown".
func setCreateTopicErr(st *kmsg.CreateTopicsResponseTopic, err error) {
	st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
}

// topicSpec turns a request topic into a TopicSpec, checking what needs no Backend.
func topicSpec(rt *kmsg.CreateTopicsRequestTopic) (TopicSpec, error) {
	spec := TopicSpec{Name: rt.Topic, Partitions: rt.NumPartitions, ReplicationFactor: rt.ReplicationFactor}
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return spec, adminErrorf(kerr.InvalidRequest, "both numPartitions or replicationFactor and replicasAssignments were set")
		}
		a, err := replicaAssignment(rt.ReplicaAssignment)
		if err != nil {
			return spec, err
		}
		spec.Assignment = a
		spec.Partitions = int32(len(a))
		spec.ReplicationFactor = int16(len(a[0]))
	} else {
		if rt.NumPartitions == 0 || rt.NumPartitions < -1 {
			return spec, adminErrorf(kerr.InvalidPartitions, "number of partitions must be positive or -1, got %d", rt.NumPartitions)
		}
		if rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1 {
			return spec, adminErrorf(kerr.InvalidReplicationFactor, "replication factor must be positive or -1, got %d", rt.ReplicationFactor)
		}
	}
	if len(rt.Configs) > 0 {
		spec.Configs = make(map[string]string, len(rt.Configs))
	}
	for _, c := range rt.Configs {
		if c.Value == nil {
			return spec, adminErrorf(kerr.InvalidConfig, "null value not supported for topic config %q", c.Name)
		}
		spec.Configs[c.Name] = *c.Value
	}
	return spec, nil
}

// replicaAssignment checks a manual assignment: partitions 0..n-1, each once, each with a
// non-empty replica list without duplicates.
func replicaAssignment(in []kmsg.CreateTopicsRequestTopicReplicaAssignment) (map[int32][]int32, error) {
	out := make(map[int32][]int32, len(in))
	for _, ra := range in {
		if ra.Partition < 0 || int(ra.Partition) >= len(in) {
			return nil, adminErrorf(kerr.InvalidReplicaAssignment, "partitions must be a consecutive 0-based sequence, got partition %d", ra.Partition)
		}
		if _, dup := out[ra.Partition]; dup {
			return nil, adminErrorf(kerr.InvalidReplicaAssignment, "partition %d assigned twice", ra.Partition)
		}
		if len(ra.Replicas) == 0 {
			return nil, adminErrorf(kerr.InvalidReplicaAssignment, "partition %d has no replicas", ra.Partition)
		}
		seen := make(map[int32]bool, len(ra.Replicas))
		for _, id := range ra.Replicas {
			if seen[id] {
				return nil, adminErrorf(kerr.InvalidReplicaAssignment, "partition %d lists broker %d twice", ra.Partition, id)
			}
			seen[id] = true
		}
		out[ra.Partition] = append([]int32(nil), ra.Replicas...)
	}
	return out, nil
}
