package kafka

// Metadata (key 3): v0-v12.
//
// Behaviour:
//   - Which topics: v0 an empty list means every topic; v1+ a null list means every topic
//     and an empty list none. Duplicate names are answered once.
//   - v10+ topics may be named by id only; ids are resolved with Backend.TopicNameByID and
//     an unknown id is answered UNKNOWN_TOPIC_ID.
//   - Auto-creation: always asked on v0-v3 (kafka-python relies on it), on v4+ only when
//     AllowAutoTopicCreation; never when listing every topic. The Backend decides whether
//     auto-creation is enabled.
//   - Brokers from Backend.Brokers (rack v1+), cluster id (v2+), controller id (v1+).
//   - Per topic: error code from TopicInfo.Err, id (v10+), internal flag (v1+),
//     authorized operations -2147483648 (v8+, "not computed"). Per partition: error code
//     from PartitionInfo.Err, leader, leader epoch (v7+), replicas, ISR, offline replicas
//     (v5+). A requested topic the Backend leaves out is answered
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - Cluster authorized operations (v8-v10) are -2147483648 too.

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(3, 0, 12, handleMetadata) }

// authorizedOpsUnknown is Kafka's "authorized operations not requested" value.
const authorizedOpsUnknown = math.MinInt32

func handleMetadata(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.MetadataRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)

	for _, b := range s.backend.Brokers() {
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID, rb.Host, rb.Port = b.NodeID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	clusterID := s.backend.ClusterID()
	resp.ClusterID = &clusterID
	resp.ControllerID = s.backend.ControllerID()
	resp.AuthorizedOperations = authorizedOpsUnknown

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	autoCreate := req.Version <= 3 || req.AllowAutoTopicCreation

	var infos []TopicInfo
	var requested []string // names asked for, in request order, without duplicates
	if all {
		infos = s.backend.Metadata(ctx, nil, false)
	} else {
		seen := map[string]bool{}
		for _, rt := range req.Topics {
			var name string
			switch {
			case rt.Topic != nil && *rt.Topic != "":
				name = *rt.Topic
			case req.Version >= 10 && rt.TopicID != [16]byte{}:
				n, ok := s.backend.TopicNameByID(rt.TopicID)
				if !ok {
					mt := kmsg.NewMetadataResponseTopic()
					mt.ErrorCode = kerr.UnknownTopicID.Code
					mt.TopicID = rt.TopicID
					mt.AuthorizedOperations = authorizedOpsUnknown
					resp.Topics = append(resp.Topics, mt)
					continue
				}
				name = n
			default:
				mt := kmsg.NewMetadataResponseTopic()
				mt.ErrorCode = kerr.InvalidTopicException.Code
				mt.Topic = rt.Topic
				mt.AuthorizedOperations = authorizedOpsUnknown
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			if !seen[name] {
				seen[name] = true
				requested = append(requested, name)
			}
		}
		if len(requested) > 0 {
			infos = s.backend.Metadata(ctx, requested, autoCreate)
		}
	}

	answered := make(map[string]bool, len(infos))
	for _, ti := range infos {
		answered[ti.Name] = true
		resp.Topics = append(resp.Topics, metadataTopic(ti))
	}
	for _, name := range requested {
		if !answered[name] {
			resp.Topics = append(resp.Topics, metadataTopic(TopicInfo{Name: name, Err: kerr.UnknownTopicOrPartition}))
		}
	}
	return resp, nil
}

// metadataTopic converts a TopicInfo to its response form.
func metadataTopic(ti TopicInfo) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := ti.Name
	mt.Topic = &name
	mt.TopicID = ti.ID
	mt.ErrorCode = errCode(ti.Err)
	mt.IsInternal = ti.Internal
	mt.AuthorizedOperations = authorizedOpsUnknown
	for _, pi := range ti.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.ErrorCode = errCode(pi.Err)
		mp.Partition = pi.Partition
		mp.Leader = pi.Leader
		mp.LeaderEpoch = pi.LeaderEpoch
		mp.Replicas = nonNil(pi.Replicas)
		mp.ISR = nonNil(pi.ISR)
		mp.OfflineReplicas = nonNil(pi.Offline)
		mt.Partitions = append(mt.Partitions, mp)
	}
	if mt.Partitions == nil {
		mt.Partitions = []kmsg.MetadataResponseTopicPartition{}
	}
	return mt
}

// nonNil returns s, or an empty slice for nil.
func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
