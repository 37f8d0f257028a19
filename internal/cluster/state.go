// Package cluster is the controller: a state machine replicated by raft group 0 over all
// nodes, holding the brokers, topics, partition assignments, topic configs and
// producer-id blocks. Every node applies it and reconciles its partition groups with it.
package cluster

import (
	"fmt"
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ControllerGroup is the raft group id of the controller.
const ControllerGroup = 0

// Broker is one registered node.
type Broker struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	Rack string `json:"rack,omitempty"`
}

// Partition is one partition of a topic: the raft group that replicates it and the
// nodes holding its replicas (the first is the preferred leader).
type Partition struct {
	Group    uint64  `json:"group"`
	Replicas []int32 `json:"replicas"`
}

// Topic is one topic.
type Topic struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions []Partition       `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
}

// Leader is the last leader a partition group reported, with its raft term.
type Leader struct {
	Node int32  `json:"node"`
	Term uint64 `json:"term"`
}

// State is the whole controller state.
type State struct {
	ClusterID      string            `json:"cluster_id"`
	Brokers        map[int32]Broker  `json:"brokers"`
	Topics         map[string]*Topic `json:"topics"`
	Leaders        map[uint64]Leader `json:"leaders,omitempty"`
	NextGroup      uint64            `json:"next_group"`
	NextProducerID int64             `json:"next_producer_id"`
}

func newState() State {
	return State{Brokers: map[int32]Broker{}, Topics: map[string]*Topic{}, Leaders: map[uint64]Leader{}, NextGroup: 1}
}

// normalize makes the maps of a decoded state non-nil.
func (s *State) normalize() {
	if s.Brokers == nil {
		s.Brokers = map[int32]Broker{}
	}
	if s.Topics == nil {
		s.Topics = map[string]*Topic{}
	}
	if s.Leaders == nil {
		s.Leaders = map[uint64]Leader{}
	}
	for name, t := range s.Topics {
		if t == nil {
			delete(s.Topics, name)
		}
	}
}

// clone deep-copies the state (readers get copies, never the live maps).
func (s *State) clone() State {
	out := State{ClusterID: s.ClusterID, NextGroup: s.NextGroup, NextProducerID: s.NextProducerID,
		Brokers: make(map[int32]Broker, len(s.Brokers)), Topics: make(map[string]*Topic, len(s.Topics)),
		Leaders: make(map[uint64]Leader, len(s.Leaders))}
	for id, b := range s.Brokers {
		out.Brokers[id] = b
	}
	for name, t := range s.Topics {
		out.Topics[name] = t.clone()
	}
	for g, l := range s.Leaders {
		out.Leaders[g] = l
	}
	return out
}

// clone deep-copies a topic.
func (t *Topic) clone() *Topic {
	c := *t
	c.Partitions = make([]Partition, len(t.Partitions))
	for i, p := range t.Partitions {
		c.Partitions[i] = Partition{Group: p.Group, Replicas: append([]int32(nil), p.Replicas...)}
	}
	if t.Configs != nil {
		c.Configs = make(map[string]string, len(t.Configs))
		for k, v := range t.Configs {
			c.Configs[k] = v
		}
	}
	return &c
}

// Command is one controller change, the payload of a controller raft entry.
type Command struct {
	Op string `json:"op"`
	// SetClusterID
	ClusterID string `json:"cluster_id,omitempty"`
	// RegisterBroker
	Broker *Broker `json:"broker,omitempty"`
	// CreateTopic: Topic with Name, ID, Configs, Internal and Partitions' Replicas set;
	// group ids are assigned on apply.
	Topic *Topic `json:"topic,omitempty"`
	// DeleteTopic, CreatePartitions, AlterConfigs
	Name string `json:"name,omitempty"`
	// CreatePartitions: replicas of each new partition.
	NewPartitions [][]int32 `json:"new_partitions,omitempty"`
	// AlterConfigs: the complete new config set of the topic.
	Configs map[string]string `json:"configs,omitempty"`
	// AllocateProducerIDs: how many ids.
	Count int64 `json:"count,omitempty"`
	// SetLeader: a partition group's new leader.
	Group  uint64  `json:"group,omitempty"`
	Leader *Leader `json:"leader,omitempty"`
}

// Command ops.
const (
	OpSetClusterID        = "set_cluster_id"
	OpRegisterBroker      = "register_broker"
	OpCreateTopic         = "create_topic"
	OpDeleteTopic         = "delete_topic"
	OpCreatePartitions    = "create_partitions"
	OpAlterConfigs        = "alter_configs"
	OpAllocateProducerIDs = "allocate_producer_ids"
	OpSetLeader           = "set_leader"
)

var legalTopicName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// ValidateTopicName applies Kafka's topic name rules.
func ValidateTopicName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%w: topic name %q is illegal", kerr.InvalidTopicException, name)
	case len(name) > 249:
		return fmt.Errorf("%w: topic name is longer than 249 characters", kerr.InvalidTopicException)
	case !legalTopicName.MatchString(name):
		return fmt.Errorf("%w: topic name %q contains characters other than ASCII alphanumerics, '.', '_' and '-'", kerr.InvalidTopicException, name)
	}
	return nil
}

// apply changes the state by one command. It is deterministic: every node applying the
// same commands in the same order reaches the same state. It returns the command's
// result: an error (a kerr error for refusals), or a value.
func (s *State) apply(c *Command) any {
	switch c.Op {
	case OpSetClusterID:
		if s.ClusterID == "" {
			s.ClusterID = c.ClusterID
		}
		return s.ClusterID
	case OpRegisterBroker:
		if c.Broker == nil {
			return kerr.InvalidRequest
		}
		s.Brokers[c.Broker.ID] = *c.Broker
		return nil
	case OpCreateTopic:
		t := c.Topic
		if t == nil || len(t.Partitions) == 0 {
			return kerr.InvalidRequest
		}
		if _, ok := s.Topics[t.Name]; ok {
			return kerr.TopicAlreadyExists
		}
		nt := &Topic{Name: t.Name, ID: t.ID, Configs: t.Configs, Internal: t.Internal}
		for _, p := range t.Partitions {
			nt.Partitions = append(nt.Partitions, Partition{Group: s.NextGroup, Replicas: p.Replicas})
			s.NextGroup++
		}
		s.Topics[t.Name] = nt
		return nil
	case OpDeleteTopic:
		if _, ok := s.Topics[c.Name]; !ok {
			return kerr.UnknownTopicOrPartition
		}
		for _, p := range s.Topics[c.Name].Partitions {
			delete(s.Leaders, p.Group)
		}
		delete(s.Topics, c.Name)
		return nil
	case OpCreatePartitions:
		t, ok := s.Topics[c.Name]
		if !ok {
			return kerr.UnknownTopicOrPartition
		}
		for _, r := range c.NewPartitions {
			t.Partitions = append(t.Partitions, Partition{Group: s.NextGroup, Replicas: r})
			s.NextGroup++
		}
		return nil
	case OpAlterConfigs:
		t, ok := s.Topics[c.Name]
		if !ok {
			return kerr.UnknownTopicOrPartition
		}
		t.Configs = c.Configs
		return nil
	case OpSetLeader:
		if c.Leader == nil {
			return kerr.InvalidRequest
		}
		if cur, ok := s.Leaders[c.Group]; !ok || c.Leader.Term >= cur.Term {
			s.Leaders[c.Group] = *c.Leader
		}
		return nil
	case OpAllocateProducerIDs:
		if c.Count <= 0 {
			return kerr.InvalidRequest
		}
		first := s.NextProducerID
		s.NextProducerID += c.Count
		return first
	}
	return fmt.Errorf("%w: unknown controller op %q", kerr.InvalidRequest, c.Op)
}
