package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeConfigsReq(v int16, synonyms bool, resources ...kmsg.DescribeConfigsRequestResource) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version, req.IncludeSynonyms, req.IncludeDocumentation, req.Resources = v, synonyms, true, resources
	return req
}

func describeResource(typ kmsg.ConfigResourceType, name string, keys ...string) kmsg.DescribeConfigsRequestResource {
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, keys
	return rr
}

// adminTopicConfig returns the value of the named config of a DescribeConfigs resource.
func adminTopicConfig(t *testing.T, s *Server, topic, name string) string {
	t.Helper()
	resp := adminCall[*kmsg.DescribeConfigsResponse](t, s, describeConfigsReq(4, false, describeResource(kmsg.ConfigResourceTypeTopic, topic, name)))
	if len(resp.Resources) != 1 || len(resp.Resources[0].Configs) != 1 || resp.Resources[0].Configs[0].Value == nil {
		t.Fatalf("describe %s %s: %+v", topic, name, resp.Resources)
	}
	return *resp.Resources[0].Configs[0].Value
}

func TestAdminDescribeConfigs(t *testing.T) {
	for _, v := range []int16{0, 4} {
		s, b := newAdminTestServer()
		adminMustCreate(t, s, "t", 1)
		b.topics["t"].configs["retention.ms"] = "1000"
		req := describeConfigsReq(v, true,
			describeResource(kmsg.ConfigResourceTypeTopic, "t"),
			describeResource(kmsg.ConfigResourceTypeTopic, "t", "retention.ms", "cleanup.policy"),
			describeResource(kmsg.ConfigResourceTypeTopic, "missing"),
			describeResource(kmsg.ConfigResourceTypeBroker, "1"),
			describeResource(kmsg.ConfigResourceTypeBroker, "2"),
			describeResource(kmsg.ConfigResourceTypeBrokerLogger, "1"),
		)
		resp := adminCall[*kmsg.DescribeConfigsResponse](t, s, req)
		if len(resp.Resources) != 6 {
			t.Fatalf("v%d: %+v", v, resp.Resources)
		}
		codes := []int16{0, 0, kerr.UnknownTopicOrPartition.Code, 0, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code}
		for i, code := range codes {
			if r := resp.Resources[i]; r.ErrorCode != code || (code != 0) != (r.ErrorMessage != nil) {
				t.Errorf("v%d resource %d: code %d msg %v, want %d", v, i, r.ErrorCode, r.ErrorMessage, code)
			}
		}
		if n := len(resp.Resources[0].Configs); n != len(adminFakeTopicDefaults) {
			t.Errorf("v%d all configs: %d", v, n)
		}
		filtered := resp.Resources[1].Configs
		if len(filtered) != 2 || filtered[0].Name != "cleanup.policy" || filtered[1].Name != "retention.ms" {
			t.Fatalf("v%d filtered: %+v", v, filtered)
		}
		def, set := filtered[0], filtered[1]
		if *def.Value != "delete" || def.IsDefault != (v == 0) || *set.Value != "1000" || set.IsDefault { // IsDefault is v0 only
			t.Errorf("v%d values/defaults: %+v %+v", v, def, set)
		}
		broker := resp.Resources[3].Configs
		if len(broker) != 2 || !broker[0].ReadOnly || broker[1].Name != "ssl.key.password" || broker[1].Value != nil || !broker[1].IsSensitive {
			t.Errorf("v%d broker: %+v", v, broker)
		}
		if v == 0 {
			if set.Source != -1 || set.ConfigSynonyms != nil || set.ConfigType != 0 {
				t.Errorf("v0 carries v1+ fields: %+v", set)
			}
			continue
		}
		if set.Source != kmsg.ConfigSourceDynamicTopicConfig || def.Source != kmsg.ConfigSourceDefaultConfig ||
			set.ConfigType != kmsg.ConfigTypeString || len(set.ConfigSynonyms) != 1 || *set.ConfigSynonyms[0].Value != "1000" {
			t.Errorf("v4 fields: %+v %+v", def, set)
		}
	}
}

func alterConfigsReq(v int16, validateOnly bool, resources ...kmsg.AlterConfigsRequestResource) *kmsg.AlterConfigsRequest {
	req := kmsg.NewPtrAlterConfigsRequest()
	req.Version, req.ValidateOnly, req.Resources = v, validateOnly, resources
	return req
}

func alterResource(typ kmsg.ConfigResourceType, name string, kvs ...string) kmsg.AlterConfigsRequestResource {
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	for i := 0; i+1 < len(kvs); i += 2 {
		rr.Configs = append(rr.Configs, kmsg.AlterConfigsRequestResourceConfig{Name: kvs[i], Value: kmsg.StringPtr(kvs[i+1])})
	}
	return rr
}

func TestAdminAlterConfigs(t *testing.T) {
	for _, v := range []int16{0, 2} {
		s, b := newAdminTestServer()
		adminMustCreate(t, s, "t", 1)
		adminMustCreate(t, s, "u", 1)
		b.topics["t"].configs["retention.ms"] = "1000"

		resp := adminCall[*kmsg.AlterConfigsResponse](t, s, alterConfigsReq(v, true, alterResource(kmsg.ConfigResourceTypeTopic, "t", "cleanup.policy", "compact")))
		if resp.Resources[0].ErrorCode != 0 || adminTopicConfig(t, s, "t", "cleanup.policy") != "delete" {
			t.Fatalf("v%d validate-only applied: %+v", v, resp.Resources)
		}

		resp = adminCall[*kmsg.AlterConfigsResponse](t, s, alterConfigsReq(v, false,
			alterResource(kmsg.ConfigResourceTypeTopic, "t", "cleanup.policy", "compact", "segment.bytes", "1024"),
			alterResource(kmsg.ConfigResourceTypeTopic, "missing", "cleanup.policy", "compact"),
			alterResource(kmsg.ConfigResourceTypeTopic, "u", "no.such", "x"),
			alterResource(kmsg.ConfigResourceTypeBroker, "1", "log.retention.ms", "5"),
			alterResource(kmsg.ConfigResourceTypeBroker, "7", "log.retention.ms", "5"),
			alterResource(kmsg.ConfigResourceTypeBrokerLogger, "1", "kafka", "DEBUG"),
		))
		codes := []int16{0, kerr.UnknownTopicOrPartition.Code, kerr.InvalidConfig.Code, 0, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code}
		if len(resp.Resources) != len(codes) {
			t.Fatalf("v%d: %+v", v, resp.Resources)
		}
		for i, code := range codes {
			if r := resp.Resources[i]; r.ErrorCode != code || (code != 0) != (r.ErrorMessage != nil) {
				t.Errorf("v%d resource %d: %+v, want %d", v, i, r, code)
			}
		}
		if got := adminTopicConfig(t, s, "t", "cleanup.policy"); got != "compact" {
			t.Errorf("v%d cleanup.policy %q", v, got)
		}
		if got := adminTopicConfig(t, s, "t", "retention.ms"); got != "604800000" {
			t.Errorf("v%d non-incremental alter kept retention.ms %q", v, got)
		}
		if b.broker["log.retention.ms"] != "5" {
			t.Errorf("v%d broker configs %v", v, b.broker)
		}

		resp = adminCall[*kmsg.AlterConfigsResponse](t, s, alterConfigsReq(v, false,
			alterResource(kmsg.ConfigResourceTypeTopic, "t", "cleanup.policy", "delete"),
			alterResource(kmsg.ConfigResourceTypeTopic, "t", "cleanup.policy", "compact")))
		if len(resp.Resources) != 2 || resp.Resources[0].ErrorCode != kerr.InvalidRequest.Code || resp.Resources[1].ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("v%d duplicate resources: %+v", v, resp.Resources)
		}
	}
}

func incResource(typ kmsg.ConfigResourceType, name string, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) kmsg.IncrementalAlterConfigsRequestResource {
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.Configs = typ, name, ops
	return rr
}

func incOp(name string, op kmsg.IncrementalAlterConfigOp, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	return kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: name, Op: op, Value: value}
}

func TestAdminIncrementalAlterConfigs(t *testing.T) {
	for _, v := range []int16{0, 1} {
		s, b := newAdminTestServer()
		adminMustCreate(t, s, "t", 1)
		b.topics["t"].configs["retention.ms"] = "1000"
		b.topics["t"].configs["segment.bytes"] = "2048"

		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.Version = v
		req.Resources = []kmsg.IncrementalAlterConfigsRequestResource{
			incResource(kmsg.ConfigResourceTypeTopic, "t",
				incOp("cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, kmsg.StringPtr("compact")),
				incOp("retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil),
				incOp("min.insync.replicas", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("2"))),
			incResource(kmsg.ConfigResourceTypeTopic, "missing", incOp("retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil)),
			incResource(kmsg.ConfigResourceTypeTopic, "badop", incOp("retention.ms", 9, kmsg.StringPtr("1"))),
			incResource(kmsg.ConfigResourceTypeTopic, "nullset", incOp("retention.ms", kmsg.IncrementalAlterConfigOpSet, nil)),
			incResource(kmsg.ConfigResourceTypeTopic, "dupkey",
				incOp("retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil), incOp("retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil)),
			incResource(kmsg.ConfigResourceTypeBroker, "x", incOp("a", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("1"))),
		}
		resp := adminCall[*kmsg.IncrementalAlterConfigsResponse](t, s, req)
		codes := []int16{0, kerr.UnknownTopicOrPartition.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code}
		if len(resp.Resources) != len(codes) {
			t.Fatalf("v%d: %+v", v, resp.Resources)
		}
		for i, code := range codes {
			if r := resp.Resources[i]; r.ErrorCode != code || (code != 0) != (r.ErrorMessage != nil) {
				t.Errorf("v%d resource %d: %+v, want %d", v, i, r, code)
			}
		}
		if !b.lastInc {
			t.Errorf("v%d: not passed as incremental", v)
		}
		got := b.topics["t"].configs
		if got["cleanup.policy"] != "delete,compact" || got["min.insync.replicas"] != "2" || got["segment.bytes"] != "2048" {
			t.Errorf("v%d configs after: %v", v, got)
		}
		if _, ok := got["retention.ms"]; ok {
			t.Errorf("v%d retention.ms not deleted", v)
		}

		vreq := kmsg.NewPtrIncrementalAlterConfigsRequest()
		vreq.Version, vreq.ValidateOnly = v, true
		vreq.Resources = []kmsg.IncrementalAlterConfigsRequestResource{
			incResource(kmsg.ConfigResourceTypeTopic, "t", incOp("segment.bytes", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("1"))),
		}
		vresp := adminCall[*kmsg.IncrementalAlterConfigsResponse](t, s, vreq)
		if vresp.Resources[0].ErrorCode != 0 || b.topics["t"].configs["segment.bytes"] != "2048" {
			t.Errorf("v%d validate-only: %+v %v", v, vresp.Resources, b.topics["t"].configs)
		}
	}
}

func TestAdminAlterConfigsPassesSetOps(t *testing.T) {
	s, b := newAdminTestServer()
	adminMustCreate(t, s, "t", 1)
	adminCall[*kmsg.AlterConfigsResponse](t, s, alterConfigsReq(2, false,
		alterResource(kmsg.ConfigResourceTypeTopic, "t", "segment.bytes", "1", "retention.ms", "2")))
	if b.lastInc || len(b.lastOps) != 2 || b.lastOps[0] != (ConfigOp{Name: "segment.bytes", Value: b.lastOps[0].Value, Op: 0}) ||
		*b.lastOps[0].Value != "1" || b.lastOps[1].Name != "retention.ms" || b.lastOps[1].Op != 0 {
		t.Fatalf("ops %+v incremental %v", b.lastOps, b.lastInc)
	}
}
