//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestZZISRProbe(t *testing.T) {
	c := startSeedCluster(t)
	var addrs []string
	for id := 1; id <= 3; id++ {
		addrs = append(addrs, c.nodes[id].addr())
	}
	adm := kadm.NewClient(client(t, addrs))
	ctx := context.Background()
	adm.CreateTopic(ctx, 3, 3, nil, crashTopic)
	p := client(t, addrs, kgo.DefaultProduceTopic(crashTopic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := 0; i < 100; i++ {
		p.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("x")})
	}
	l := leaderOf(t, adm, 0)
	var victim int
	for id := 1; id <= 3; id++ {
		if int32(id) != l {
			victim = id
		}
	}
	c.nodes[victim].kill()
	t0 := time.Now()
	var maxLat time.Duration
	n := 0
	for time.Since(t0) < 6*time.Second {
		s := time.Now()
		if err := p.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
			t.Logf("err %v", err)
		}
		lat := time.Since(s)
		n++
		if lat > 100*time.Millisecond {
			t.Logf("at %v: produce latency %v; %s", time.Since(t0).Round(time.Millisecond), lat.Round(time.Millisecond), leadersByNode(c, 0))
		}
		if lat > maxLat {
			maxLat = lat
		}
	}
	t.Logf("%d produces, max latency %v; %s", n, maxLat, leadersByNode(c, 0))
}
