package server

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestClusterMoveLeadershipsAway checks the graceful-stop handover: a node hands every
// group it leads to the other nodes, spread over both, before it stops.
func TestClusterMoveLeadershipsAway(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	adm := kadm.NewClient(newClient(t, c.seeds()))
	const partitions = 24
	if _, err := adm.CreateTopic(ctx, partitions, 3, nil, "handover"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a leader for every partition", func() bool {
		led := 0
		for _, n := range c.nodes {
			led += n.leaderships()
		}
		return led == partitions+1 // and the controller
	})
	leaving, others := c.nodes[0], c.nodes[1:]
	moving := leaving.leaderships()
	if moving < 2 {
		t.Fatalf("node 1 leads %d groups; the test needs at least 2", moving)
	}
	before := []int{others[0].leaderships(), others[1].leaderships()}

	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	leaving.broker.MoveLeadershipsAway(hctx)
	if hctx.Err() != nil {
		t.Fatalf("handover did not finish: node 1 still leads %d groups", leaving.leaderships())
	}
	if n := leaving.leaderships(); n != 0 {
		t.Fatalf("node 1 still leads %d groups after the handover", n)
	}
	waitFor(t, "the moved groups led by nodes 2 and 3", func() bool {
		return others[0].leaderships()+others[1].leaderships() == partitions+1
	})
	for i, n := range others {
		if gained := n.leaderships() - before[i]; gained < 1 {
			t.Errorf("node %d gained %d of the %d moved leaderships; want them spread", i+2, gained, moving)
		}
	}
}
