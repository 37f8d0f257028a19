package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestApplyIsDeterministicAndRefusesConflicts(t *testing.T) {
	cmds := []Command{
		{Op: OpSetClusterID, ClusterID: "c1"},
		{Op: OpRegisterBroker, Broker: &Broker{ID: 1, Host: "h", Port: 9092}},
		{Op: OpCreateTopic, Topic: &Topic{Name: "a", Partitions: []Partition{{Replicas: []int32{1}}, {Replicas: []int32{1}}}}},
		{Op: OpCreatePartitions, Name: "a", NewPartitions: [][]int32{{1}}},
		{Op: OpSetLeader, Group: 1, Leader: &Leader{Node: 1, Term: 3}},
		{Op: OpSetLeader, Group: 1, Leader: &Leader{Node: 2, Term: 2}}, // stale: ignored
		{Op: OpAllocateProducerIDs, Count: 1000},
	}
	a, b := newState(), newState()
	for i := range cmds {
		a.apply(&cmds[i])
		b.apply(&cmds[i])
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("two replicas applying the same commands diverged")
	}
	if got := a.Topics["a"].Partitions; len(got) != 3 || got[0].Group != 1 || got[2].Group != 3 {
		t.Fatalf("partition groups %+v", got)
	}
	if a.Leaders[1].Node != 1 {
		t.Fatalf("stale leader report applied: %+v", a.Leaders[1])
	}
	if err, _ := a.apply(&Command{Op: OpCreateTopic, Topic: &Topic{Name: "a", Partitions: []Partition{{Replicas: []int32{1}}}}}).(error); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("duplicate topic: %v", err)
	}
	if first := a.apply(&Command{Op: OpAllocateProducerIDs, Count: 10}); first != int64(1000) {
		t.Fatalf("producer id block starts at %v", first)
	}
	a.apply(&Command{Op: OpDeleteTopic, Name: "a"})
	if _, ok := a.Leaders[1]; ok || len(a.Topics) != 0 {
		t.Fatal("delete left state behind")
	}
}

func TestTopicNamesAndConfigs(t *testing.T) {
	for name, ok := range map[string]bool{"orders": true, "a.b_c-d": true, "": false, ".": false, "bad/name": false, "sp ace": false} {
		if err := ValidateTopicName(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, tc := range []struct {
		k, v string
		ok   bool
	}{
		{"retention.ms", "1000", true}, {"retention.ms", "-1", true}, {"retention.ms", "x", false},
		{"cleanup.policy", "compact", true}, {"cleanup.policy", "shred", false},
		{"message.timestamp.type", "LogAppendTime", true}, {"no.such.config", "1", false},
		{"segment.bytes", "10", false},
	} {
		if err := ValidateTopicConfig(tc.k, tc.v); (err == nil) != tc.ok {
			t.Errorf("%s=%s: %v", tc.k, tc.v, err)
		}
	}
}

func FuzzControllerSnapshot(f *testing.F) {
	s := newState()
	s.apply(&Command{Op: OpCreateTopic, Topic: &Topic{Name: "t", Partitions: []Partition{{Replicas: []int32{1}}}}})
	good, _ := json.Marshal(snapshot{Applied: 4, State: s})
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Controller{dir: t.TempDir(), state: newState()}
		if err := c.Restore(context.Background(), 5, b); err == nil {
			_ = c.Snapshot()
			_ = c.TopicNames()
		}
	})
}
