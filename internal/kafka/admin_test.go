package kafka

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminCall runs req through its registered handler the way the wire would: the request
// is encoded and decoded at its version, the response encoded and decoded again, so
// fields a version does not carry come back empty.
func adminCall[R kmsg.Response](t *testing.T, s *Server, req kmsg.Request) R {
	t.Helper()
	return adminCallCtx[R](t, context.Background(), s, req)
}

func adminCallCtx[R kmsg.Response](t *testing.T, ctx context.Context, s *Server, req kmsg.Request) R {
	t.Helper()
	key, v := req.Key(), req.GetVersion()
	a, ok := apis[key]
	if !ok || v < a.minVersion || v > a.maxVersion {
		t.Fatalf("key %d v%d not registered (have %+v)", key, v, a)
	}
	dec := kmsg.RequestForKey(key)
	dec.SetVersion(v)
	if err := dec.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("decode request: %v", err)
	}
	resp, err := a.handle(ctx, s, &Request{Key: key, Version: v, Body: dec})
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	if resp.GetVersion() != v {
		t.Fatalf("response version %d, want %d", resp.GetVersion(), v)
	}
	out := kmsg.ResponseForKey(key)
	out.SetVersion(v)
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return out.(R)
}

func newAdminTestServer() (*Server, *adminFakeBackend) {
	b := newAdminFakeBackend()
	return &Server{backend: b}, b
}

func adminMustCreate(t *testing.T, s *Server, name string, parts int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, -1
	req.Topics = append(req.Topics, rt)
	resp := adminCall[*kmsg.CreateTopicsResponse](t, s, req)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %+v", name, resp.Topics)
	}
}

func TestAdminRegistered(t *testing.T) {
	want := map[int16][2]int16{19: {0, 7}, 20: {0, 6}, 21: {0, 2}, 32: {0, 4}, 33: {0, 2}, 35: {0, 4}, 37: {0, 3}, 44: {0, 1}, 60: {0, 1}}
	for key, vs := range want {
		a, ok := apis[key]
		if !ok || a.minVersion != vs[0] || a.maxVersion != vs[1] {
			t.Errorf("key %d: got %+v, want versions %v", key, a, vs)
		}
	}
}

func TestAdminDescribeCluster(t *testing.T) {
	s, _ := newAdminTestServer()
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = v
		req.IncludeClusterAuthorizedOperations = v == 1
		resp := adminCall[*kmsg.DescribeClusterResponse](t, s, req)
		if resp.ErrorCode != 0 || resp.ClusterID != "admin-fake-cluster" || resp.ControllerID != 1 {
			t.Fatalf("v%d: %+v", v, resp)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 || resp.Brokers[0].Host != "127.0.0.1" ||
			resp.Brokers[0].Port != 9092 || resp.Brokers[0].Rack == nil || *resp.Brokers[0].Rack != "rack-a" {
			t.Fatalf("v%d brokers: %+v", v, resp.Brokers)
		}
		wantOps := int32(-2147483648)
		if v == 1 {
			wantOps = clusterAuthorizedOps
		}
		if resp.ClusterAuthorizedOperations != wantOps {
			t.Fatalf("v%d authorized ops %d", v, resp.ClusterAuthorizedOperations)
		}
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.Version, req.EndpointType = 1, 2
	resp := adminCall[*kmsg.DescribeClusterResponse](t, s, req)
	if resp.ErrorCode != kerr.UnsupportedEndpointType.Code || resp.ErrorMessage == nil || resp.EndpointType != 2 {
		t.Fatalf("controller endpoint: %+v", resp)
	}
}
