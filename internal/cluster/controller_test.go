package cluster

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// Readers see every applied change, and a view they hold never changes under them.
func TestControllerViewFollowsChangesAndStaysImmutable(t *testing.T) {
	c, err := OpenController(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(index uint64, cmd Command) {
		b, _ := json.Marshal(cmd)
		c.Apply(index, b)
	}
	apply(1, Command{Op: OpCreateTopic, Topic: &Topic{Name: "a", ID: [16]byte{7}, Configs: map[string]string{"retention.ms": "1"},
		Partitions: []Partition{{Replicas: []int32{1, 2}}}}})
	before := c.Snapshot()
	if name, ok := c.TopicByID([16]byte{7}); !ok || name != "a" {
		t.Fatalf("topic by id: %q %v", name, ok)
	}
	apply(2, Command{Op: OpSetLeader, Group: 1, Leader: &Leader{Node: 2, Term: 4}})
	apply(3, Command{Op: OpCreatePartitions, Name: "a", NewPartitions: [][]int32{{2, 1}}})
	if l, ok := c.LeaderOf(1); !ok || l.Node != 2 {
		t.Fatalf("leader after report: %+v %v", l, ok)
	}
	if tp, _ := c.Topic("a"); len(tp.Partitions) != 2 {
		t.Fatalf("partitions after CreatePartitions: %d", len(tp.Partitions))
	}
	if len(before.Topics["a"].Partitions) != 1 || len(before.Leaders) != 0 {
		t.Fatal("a view taken earlier changed")
	}
	c.mu.RLock()
	live := c.state.clone()
	c.mu.RUnlock()
	if got := c.Snapshot(); !reflect.DeepEqual(got, live) {
		t.Fatalf("view %+v differs from the state %+v", got, live)
	}
}

// A reader never gets a view older than a change applied before its call, also while
// another reader is making the new copy.
func TestControllerReadersSeeAppliedChanges(t *testing.T) {
	c, err := OpenController(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	for i := 0; i < 4; i++ { // readers refreshing the view all the time
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
					c.TopicNames()
				}
			}
		}()
	}
	for i := 1; i <= 200; i++ {
		name := fmt.Sprintf("t%d", i)
		b, _ := json.Marshal(Command{Op: OpCreateTopic, Topic: &Topic{Name: name, Partitions: []Partition{{Replicas: []int32{1}}}}})
		c.Apply(uint64(i), b)
		if _, ok := c.Topic(name); !ok {
			t.Fatalf("topic %s applied but not visible", name)
		}
	}
}
