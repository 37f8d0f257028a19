package kafka

// DescribeCluster, versions 0-1.
//
// Answers Backend.Brokers (rack null when empty), ClusterID and ControllerID. v1 echoes
// EndpointType; only 1 (brokers) is served, any other type is UNSUPPORTED_ENDPOINT_TYPE.
// With no authorizer every cluster operation is allowed, so when asked the authorized
// operations are all that apply to the cluster resource; otherwise INT32_MIN.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(60, 0, 1, handleDescribeCluster) }

// clusterAuthorizedOps is the bitfield of the ACL operations Kafka supports on the
// cluster resource.
const clusterAuthorizedOps = 1<<kmsg.ACLOperationCreate | 1<<kmsg.ACLOperationAlter |
	1<<kmsg.ACLOperationDescribe | 1<<kmsg.ACLOperationClusterAction |
	1<<kmsg.ACLOperationDescribeConfigs | 1<<kmsg.ACLOperationAlterConfigs |
	1<<kmsg.ACLOperationIdempotentWrite

func handleDescribeCluster(_ context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.DescribeClusterRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 {
		resp.EndpointType = req.EndpointType
		if req.EndpointType != 1 {
			err := adminErrorf(kerr.UnsupportedEndpointType, "only endpoint type 1 (brokers) is supported, got %d", req.EndpointType)
			resp.ErrorCode, resp.ErrorMessage = errCode(err), errMessage(err)
			return resp, nil
		}
	}
	resp.ClusterID = s.backend.ClusterID()
	resp.ControllerID = s.backend.ControllerID()
	for _, b := range s.backend.Brokers() {
		sb := kmsg.NewDescribeClusterResponseBroker()
		sb.NodeID, sb.Host, sb.Port = b.NodeID, b.Host, b.Port
		if b.Rack != "" {
			sb.Rack = kmsg.StringPtr(b.Rack)
		}
		resp.Brokers = append(resp.Brokers, sb)
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterAuthorizedOps
	}
	return resp, nil
}
