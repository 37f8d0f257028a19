package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/chronik-stream/chronik/internal/partition"
)

// Validate checks a configuration and says what is wrong with it.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.NodeID == 0 {
		bad("node id must be a positive integer")
	}
	if c.DataDir == "" {
		bad("data dir must not be empty")
	}
	if c.KafkaPort < 0 || c.KafkaPort > 65535 {
		bad("kafka port %d is not a TCP port", c.KafkaPort)
	}
	if c.AdvertisedPort < 0 || c.AdvertisedPort > 65535 {
		bad("advertised port %d is not a TCP port", c.AdvertisedPort)
	}
	if c.HTTPPort < -1 || c.HTTPPort > 65535 {
		bad("http port %d is not a TCP port (-1 disables it)", c.HTTPPort)
	}
	if c.AdvertisedHost == "" {
		bad("advertised host must not be empty")
	}
	if c.MaxRequestBytes < 1024 {
		bad("max request size %d is below 1024 bytes", c.MaxRequestBytes)
	}
	if c.DefaultPartitions < 1 {
		bad("default partitions %d must be at least 1", c.DefaultPartitions)
	}
	if c.DefaultReplicationFactor < 0 {
		bad("default replication factor %d must not be negative", c.DefaultReplicationFactor)
	}
	if c.PageCacheBytes < -1 {
		bad("page cache bytes %d is below -1", c.PageCacheBytes)
	}
	if c.SegmentBytes < 1024 {
		bad("segment bytes %d is below 1024", c.SegmentBytes)
	}
	if c.MaxMessageBytes < 1 {
		bad("max message bytes %d must be positive", c.MaxMessageBytes)
	}
	if c.RaftTick <= 0 || c.ElectionTicks <= c.HeartbeatTicks || c.HeartbeatTicks < 1 {
		bad("raft timing: tick %v, election %d ticks, heartbeat %d ticks (election must exceed heartbeat)", c.RaftTick, c.ElectionTicks, c.HeartbeatTicks)
	}
	if _, dup := c.Peers[c.NodeID]; dup {
		bad("peers list this node's own id %d", c.NodeID)
	}
	for id, addr := range c.Peers {
		if id == 0 {
			bad("peer id 0 is not valid")
		}
		if addr == "" {
			bad("peer %d has no address", id)
		}
	}
	return errors.Join(errs...)
}

// voters lists every node of the cluster: this one and its peers, in id order.
func (c Config) voters() []uint64 {
	ids := []uint64{c.NodeID}
	for id := range c.Peers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (c Config) advertisedPort() int {
	if c.AdvertisedPort != 0 {
		return c.AdvertisedPort
	}
	return c.KafkaPort
}

// identityFile records which node and cluster membership a data dir belongs to.
const identityFile = "node.json"

type identity struct {
	NodeID uint64   `json:"node_id"`
	Voters []uint64 `json:"voters"`
}

// checkIdentity refuses a data dir written by another node id or another cluster
// membership, and records the identity of a new one.
func checkIdentity(c Config) error {
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir %s: %w", c.DataDir, err)
	}
	path := filepath.Join(c.DataDir, identityFile)
	want := identity{NodeID: c.NodeID, Voters: c.voters()}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		data, _ := json.Marshal(want)
		return partition.WriteFileAtomic(path, data)
	}
	if err != nil {
		return err
	}
	var have identity
	if err := json.Unmarshal(b, &have); err != nil {
		return fmt.Errorf("data dir %s: unreadable %s: %w", c.DataDir, identityFile, err)
	}
	if have.NodeID != want.NodeID {
		return fmt.Errorf("data dir %s belongs to node %d, not node %d", c.DataDir, have.NodeID, want.NodeID)
	}
	if fmt.Sprint(have.Voters) != fmt.Sprint(want.Voters) {
		return fmt.Errorf("data dir %s belongs to a cluster of nodes %v, but this node is configured with %v", c.DataDir, have.Voters, want.Voters)
	}
	return nil
}
