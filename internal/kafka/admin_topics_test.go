package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func createTopicsReq(v int16, validateOnly bool, timeoutMillis int32, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.ValidateOnly, req.TimeoutMillis, req.Topics = v, validateOnly, timeoutMillis, topics
	return req
}

func createTopic(name string, parts int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
		rt.Configs = append(rt.Configs, c)
	}
	return rt
}

func createTopicsByName(resp *kmsg.CreateTopicsResponse) map[string]kmsg.CreateTopicsResponseTopic {
	out := map[string]kmsg.CreateTopicsResponseTopic{}
	for _, t := range resp.Topics {
		out[t.Topic] = t
	}
	return out
}

func TestAdminCreateTopics(t *testing.T) {
	for _, v := range []int16{0, 7} {
		s, b := newAdminTestServer()
		assigned := createTopic("assigned", -1, -1)
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = 0, []int32{1}
		assigned.ReplicaAssignment = append(assigned.ReplicaAssignment, ra, ra) // partition 0 twice
		mixed := createTopic("mixed", 2, -1)
		mixed.ReplicaAssignment = append(mixed.ReplicaAssignment, ra)
		nullCfg := createTopic("nullcfg", 1, 1)
		nullCfg.Configs = append(nullCfg.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "retention.ms"})
		req := createTopicsReq(v, false, 5000,
			createTopic("a", -1, -1, "cleanup.policy", "compact"),
			createTopic("dup", 1, 1), createTopic("dup", 2, 1),
			createTopic("zero", 0, 1), createTopic("rf3", 1, 3),
			assigned, mixed, nullCfg, createTopic("badcfg", 1, 1, "no.such", "x"))
		resp := adminCall[*kmsg.CreateTopicsResponse](t, s, req)
		if len(resp.Topics) != 8 {
			t.Fatalf("v%d: %d topics answered, want 8 (dup once)", v, len(resp.Topics))
		}
		if !b.sawDeadline {
			t.Fatalf("v%d: request timeout not passed as ctx deadline", v)
		}
		got := createTopicsByName(resp)
		wantCodes := map[string]int16{
			"a": 0, "dup": kerr.InvalidRequest.Code, "zero": kerr.InvalidPartitions.Code,
			"rf3": kerr.InvalidReplicationFactor.Code, "assigned": kerr.InvalidReplicaAssignment.Code,
			"mixed": kerr.InvalidRequest.Code, "nullcfg": kerr.InvalidConfig.Code, "badcfg": kerr.InvalidConfig.Code,
		}
		for name, code := range wantCodes {
			st := got[name]
			if st.ErrorCode != code {
				t.Errorf("v%d %s: code %d, want %d", v, name, st.ErrorCode, code)
			}
			if hasMsg := st.ErrorMessage != nil; hasMsg != (v >= 1 && code != 0) {
				t.Errorf("v%d %s: error message %v", v, name, st.ErrorMessage)
			}
		}
		if _, ok := b.topics["dup"]; ok {
			t.Errorf("v%d: duplicate topic was created", v)
		}
		a := got["a"]
		if v == 0 {
			if a.NumPartitions != -1 || a.Configs != nil || a.TopicID != [16]byte{} {
				t.Errorf("v0 carries v5+ fields: %+v", a)
			}
			continue
		}
		if a.NumPartitions != 3 || a.ReplicationFactor != 1 || a.TopicID != b.topics["a"].id {
			t.Errorf("v7 a: %+v", a)
		}
		var sawCompact bool
		for _, c := range a.Configs {
			if c.Name == "cleanup.policy" && c.Value != nil && *c.Value == "compact" && c.Source == 1 {
				sawCompact = true
			}
		}
		if !sawCompact || len(a.Configs) != len(adminFakeTopicDefaults) {
			t.Errorf("v7 configs: %+v", a.Configs)
		}
		if z := got["zero"]; z.NumPartitions != -1 || z.ReplicationFactor != -1 {
			t.Errorf("v7 failed topic carries counts: %+v", z)
		}
	}
}

func TestAdminCreateTopicsValidateOnlyAndAssignment(t *testing.T) {
	s, b := newAdminTestServer()
	adminMustCreate(t, s, "exists", 1)
	assigned := createTopic("assigned", -1, -1)
	for p := range int32(2) {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = p, []int32{1}
		assigned.ReplicaAssignment = append(assigned.ReplicaAssignment, ra)
	}
	resp := adminCall[*kmsg.CreateTopicsResponse](t, s, createTopicsReq(7, true, 0,
		createTopic("v", 4, 1), createTopic("exists", 1, 1), assigned))
	if b.sawDeadline {
		t.Fatal("timeout 0 must not bound the ctx")
	}
	got := createTopicsByName(resp)
	if st := got["v"]; st.ErrorCode != 0 || st.NumPartitions != 4 || st.TopicID != [16]byte{} {
		t.Fatalf("validate-only: %+v", st)
	}
	if st := got["assigned"]; st.ErrorCode != 0 || st.NumPartitions != 2 || st.ReplicationFactor != 1 {
		t.Fatalf("assignment: %+v", st)
	}
	if got["exists"].ErrorCode != kerr.TopicAlreadyExists.Code {
		t.Fatalf("exists: %+v", got["exists"])
	}
	if len(b.topics) != 1 {
		t.Fatalf("validate-only created topics: %v", b.topics)
	}
}

func TestAdminDeleteTopics(t *testing.T) {
	s, b := newAdminTestServer()
	adminMustCreate(t, s, "a", 1)
	adminMustCreate(t, s, "b", 1)
	adminMustCreate(t, s, "c", 1)

	v0 := kmsg.NewPtrDeleteTopicsRequest()
	v0.Version, v0.TopicNames, v0.TimeoutMillis = 0, []string{"a", "nope"}, 1000
	resp := adminCall[*kmsg.DeleteTopicsResponse](t, s, v0)
	if len(resp.Topics) != 2 || resp.Topics[0].ErrorCode != 0 || *resp.Topics[0].Topic != "a" ||
		resp.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code || resp.Topics[1].ErrorMessage != nil {
		t.Fatalf("v0: %+v", resp.Topics)
	}

	bID, cID := b.topics["b"].id, b.topics["c"].id
	entry := func(name *string, id [16]byte) kmsg.DeleteTopicsRequestTopic {
		e := kmsg.NewDeleteTopicsRequestTopic()
		e.Topic, e.TopicID = name, id
		return e
	}
	v6 := kmsg.NewPtrDeleteTopicsRequest()
	v6.Version = 6
	v6.Topics = []kmsg.DeleteTopicsRequestTopic{
		entry(nil, bID), entry(kmsg.StringPtr("c"), [16]byte{}), entry(nil, [16]byte{9}),
		entry(kmsg.StringPtr("x"), [16]byte{7}), entry(nil, [16]byte{}),
		entry(kmsg.StringPtr("d"), [16]byte{}), entry(kmsg.StringPtr("d"), [16]byte{}),
	}
	resp = adminCall[*kmsg.DeleteTopicsResponse](t, s, v6)
	want := []int16{0, 0, kerr.UnknownTopicID.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code} // "d" answered once
	if len(resp.Topics) != len(want) {
		t.Fatalf("v6: %+v", resp.Topics)
	}
	for i, code := range want {
		if st := resp.Topics[i]; st.ErrorCode != code || (code != 0) != (st.ErrorMessage != nil) {
			t.Errorf("v6 entry %d: %+v, want code %d", i, st, code)
		}
	}
	if st := resp.Topics[0]; st.Topic == nil || *st.Topic != "b" || st.TopicID != bID {
		t.Errorf("by id: %+v", st)
	}
	if st := resp.Topics[1]; st.TopicID != cID {
		t.Errorf("by name lacks id: %+v", st)
	}
	if len(b.topics) != 0 {
		t.Fatalf("left: %v", b.topics)
	}
}

func TestAdminDeleteRecords(t *testing.T) {
	for _, v := range []int16{0, 2} {
		s, _ := newAdminTestServer()
		adminMustCreate(t, s, "t", 3)
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.Version, req.TimeoutMillis = v, 1000
		part := func(p int32, off int64) kmsg.DeleteRecordsRequestTopicPartition {
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = p, off
			return rp
		}
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = "t"
		rt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{part(0, 5), part(1, -1), part(2, 20), part(2, -7), part(9, 1)}
		missing := kmsg.NewDeleteRecordsRequestTopic()
		missing.Topic, missing.Partitions = "missing", rt.Partitions[:1]
		req.Topics = append(req.Topics, rt, missing)
		resp := adminCall[*kmsg.DeleteRecordsResponse](t, s, req)
		if len(resp.Topics) != 2 || len(resp.Topics[0].Partitions) != 5 || len(resp.Topics[1].Partitions) != 1 {
			t.Fatalf("v%d: %+v", v, resp.Topics)
		}
		type res struct {
			low  int64
			code int16
		}
		want := []res{{5, 0}, {adminFakeHW, 0}, {-1, kerr.OffsetOutOfRange.Code}, {-1, kerr.OffsetOutOfRange.Code}, {-1, kerr.UnknownTopicOrPartition.Code}}
		for i, w := range want {
			if p := resp.Topics[0].Partitions[i]; p.LowWatermark != w.low || p.ErrorCode != w.code {
				t.Errorf("v%d partition entry %d: %+v, want %+v", v, i, p, w)
			}
		}
		if p := resp.Topics[1].Partitions[0]; p.ErrorCode != kerr.UnknownTopicOrPartition.Code || p.LowWatermark != -1 {
			t.Errorf("v%d missing topic: %+v", v, p)
		}
	}
}

func TestAdminCreatePartitions(t *testing.T) {
	for _, v := range []int16{0, 3} {
		s, b := newAdminTestServer()
		adminMustCreate(t, s, "grow", 1)
		adminMustCreate(t, s, "shrink", 3)
		adminMustCreate(t, s, "validate", 1)
		adminMustCreate(t, s, "assign", 1)
		topic := func(name string, count int32) kmsg.CreatePartitionsRequestTopic {
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = name, count
			return rt
		}
		assign := topic("assign", 2)
		assign.Assignment = []kmsg.CreatePartitionsRequestTopicAssignment{{Replicas: []int32{1}}}
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version, req.TimeoutMillis = v, 1000
		req.Topics = []kmsg.CreatePartitionsRequestTopic{
			topic("grow", 4), topic("shrink", 2), topic("missing", 2), topic("dup", 2), topic("dup", 3), topic("zero", 0), assign,
		}
		resp := adminCall[*kmsg.CreatePartitionsResponse](t, s, req)
		want := []struct {
			name string
			code int16
		}{
			{"grow", 0}, {"shrink", kerr.InvalidPartitions.Code}, {"missing", kerr.UnknownTopicOrPartition.Code},
			{"dup", kerr.InvalidRequest.Code}, {"zero", kerr.InvalidPartitions.Code}, {"assign", kerr.InvalidReplicaAssignment.Code},
		}
		if len(resp.Topics) != len(want) {
			t.Fatalf("v%d: %+v", v, resp.Topics)
		}
		for i, w := range want {
			if st := resp.Topics[i]; st.Topic != w.name || st.ErrorCode != w.code || (w.code != 0) != (st.ErrorMessage != nil) {
				t.Errorf("v%d %d: %+v, want %+v", v, i, st, w)
			}
		}
		if b.topics["grow"].parts != 4 {
			t.Errorf("v%d: grow has %d partitions", v, b.topics["grow"].parts)
		}

		vreq := kmsg.NewPtrCreatePartitionsRequest()
		vreq.Version, vreq.ValidateOnly = v, true
		vreq.Topics = []kmsg.CreatePartitionsRequestTopic{topic("validate", 5)}
		vresp := adminCall[*kmsg.CreatePartitionsResponse](t, s, vreq)
		if vresp.Topics[0].ErrorCode != 0 || b.topics["validate"].parts != 1 {
			t.Errorf("v%d validate-only: %+v, parts %d", v, vresp.Topics, b.topics["validate"].parts)
		}
	}
}

func TestAdminDescribeLogDirs(t *testing.T) {
	for _, v := range []int16{0, 4} {
		s, _ := newAdminTestServer()
		adminMustCreate(t, s, "b", 2)
		adminMustCreate(t, s, "a", 3)

		all := kmsg.NewPtrDescribeLogDirsRequest()
		all.Version = v
		resp := adminCall[*kmsg.DescribeLogDirsResponse](t, s, all)
		if len(resp.Dirs) != 1 || resp.Dirs[0].Dir != "/data" || resp.Dirs[0].ErrorCode != 0 {
			t.Fatalf("v%d: %+v", v, resp.Dirs)
		}
		d := resp.Dirs[0]
		if len(d.Topics) != 2 || d.Topics[0].Topic != "a" || len(d.Topics[0].Partitions) != 3 ||
			d.Topics[0].Partitions[0].Partition != 0 || d.Topics[0].Partitions[2].Size != 300 {
			t.Fatalf("v%d all: %+v", v, d.Topics)
		}
		if v >= 4 && (d.TotalBytes != 1<<30 || d.UsableBytes != 1<<29) {
			t.Errorf("v%d sizes: %d %d", v, d.TotalBytes, d.UsableBytes)
		}

		some := kmsg.NewPtrDescribeLogDirsRequest()
		some.Version = v
		some.Topics = []kmsg.DescribeLogDirsRequestTopic{{Topic: "b", Partitions: []int32{1, 7}}, {Topic: "zz", Partitions: []int32{0}}}
		resp = adminCall[*kmsg.DescribeLogDirsResponse](t, s, some)
		d = resp.Dirs[0]
		if len(d.Topics) != 1 || d.Topics[0].Topic != "b" || len(d.Topics[0].Partitions) != 1 || d.Topics[0].Partitions[0].Partition != 1 {
			t.Fatalf("v%d filtered: %+v", v, d.Topics)
		}
	}
}
