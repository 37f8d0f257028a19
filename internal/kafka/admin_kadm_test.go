package kafka

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startAdminKadm serves an adminFakeBackend on 127.0.0.1:0 and returns a kadm client for it.
func startAdminKadm(t *testing.T) (*kadm.Client, *kgo.Client, *adminFakeBackend) {
	t.Helper()
	b := newAdminFakeBackend()
	srv := NewServer(Config{Addr: "127.0.0.1:0"}, b, slog.New(slog.DiscardHandler))
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().(*net.TCPAddr)
	b.setAddr("127.0.0.1", int32(addr.Port))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr.String()), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return kadm.NewClient(cl), cl, b
}

func adminKadmConfig(t *testing.T, adm *kadm.Client, topic, key string) string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	t.Fatalf("%s has no config %s: %+v", topic, key, rc.Configs)
	return ""
}

func TestAdminKadm(t *testing.T) {
	adm, cl, b := startAdminKadm(t)
	ctx := context.Background()

	created, err := adm.CreateTopics(ctx, 2, 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")}, "t1", "t2")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"t1", "t2"} {
		r := created[name]
		if r.Err != nil || r.NumPartitions != 2 || r.ReplicationFactor != 1 || r.ID == (kadm.TopicID{}) ||
			r.Configs["cleanup.policy"].Value == nil || *r.Configs["cleanup.policy"].Value != "compact" {
			t.Fatalf("create %s: %+v", name, r)
		}
	}
	again, err := adm.CreateTopics(ctx, 1, 1, nil, "t1")
	if err != nil || !errors.Is(again["t1"].Err, kerr.TopicAlreadyExists) || again["t1"].ErrMessage == "" {
		t.Fatalf("create again: %v %+v", err, again)
	}

	validated, err := adm.ValidateCreateTopics(ctx, 5, 1, nil, "v")
	if err != nil || validated["v"].Err != nil || validated["v"].NumPartitions != 5 {
		t.Fatalf("validate: %v %+v", err, validated)
	}
	if b.parts("v") != -1 {
		t.Fatal("validate-only create made the topic")
	}

	if got := adminKadmConfig(t, adm, "t1", "cleanup.policy"); got != "compact" {
		t.Fatalf("cleanup.policy %q", got)
	}
	// AlterTopicConfigsState is the legacy AlterConfigs: it replaces the whole set.
	if rs, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1000")}}, "t1"); err != nil || rs[0].Err != nil {
		t.Fatalf("alter state: %v %+v", err, rs)
	}
	if got := adminKadmConfig(t, adm, "t1", "cleanup.policy"); got != "delete" {
		t.Fatalf("after state alter cleanup.policy %q", got)
	}
	// AlterTopicConfigs is IncrementalAlterConfigs.
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kmsg.StringPtr("compact")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, "t1")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("incremental alter: %v %+v", err, rs)
	}
	if got := adminKadmConfig(t, adm, "t1", "cleanup.policy"); got != "delete,compact" {
		t.Fatalf("after incremental cleanup.policy %q", got)
	}
	if got := adminKadmConfig(t, adm, "t1", "retention.ms"); got != "604800000" {
		t.Fatalf("after incremental retention.ms %q", got)
	}
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kmsg.StringPtr("1")}}, "nope"); err != nil || !errors.Is(rs[0].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("alter unknown: %v %+v", err, rs)
	}

	if ps, err := adm.UpdatePartitions(ctx, 4, "t1"); err != nil || ps["t1"].Err != nil {
		t.Fatalf("update partitions: %v %+v", err, ps)
	}
	if ps, err := adm.CreatePartitions(ctx, 1, "t2"); err != nil || ps["t2"].Err != nil {
		t.Fatalf("create partitions: %v %+v", err, ps)
	}
	if b.parts("t1") != 4 || b.parts("t2") != 3 {
		t.Fatalf("partitions: t1 %d t2 %d", b.parts("t1"), b.parts("t2"))
	}

	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "t1", Partition: 0, At: 5})
	os.Add(kadm.Offset{Topic: "t1", Partition: 1, At: -1})
	dr, err := adm.DeleteRecords(ctx, os)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := dr.Lookup("t1", 0); r.Err != nil || r.LowWatermark != 5 {
		t.Fatalf("delete records p0: %+v", r)
	}
	if r, _ := dr.Lookup("t1", 1); r.Err != nil || r.LowWatermark != adminFakeHW {
		t.Fatalf("delete records p1: %+v", r)
	}

	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := dirs[1]["/data"]
	if !ok || d.Err != nil || len(d.Topics["t1"]) != 4 || len(d.Topics["t2"]) != 3 || d.TotalBytes != 1<<30 {
		t.Fatalf("log dirs: %+v", dirs)
	}

	meta, err := adm.BrokerMetadata(ctx)
	if err != nil || len(meta.Brokers) != 1 || meta.Brokers[0].NodeID != 1 {
		t.Fatalf("broker metadata: %v %+v", err, meta)
	}
	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil || dc.ErrorCode != 0 || dc.ClusterID != "admin-fake-cluster" || len(dc.Brokers) != 1 || dc.Brokers[0].Port != b.Brokers()[0].Port {
		t.Fatalf("describe cluster: %v %+v", err, dc)
	}

	deleted, err := adm.DeleteTopics(ctx, "t1", "t2", "nope")
	if err != nil {
		t.Fatal(err)
	}
	if deleted["t1"].Err != nil || deleted["t2"].Err != nil || !errors.Is(deleted["nope"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete: %+v", deleted)
	}
	if n := b.topicCount(); n != 0 {
		t.Fatalf("%d topics left", n)
	}
}
