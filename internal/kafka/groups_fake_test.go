package kafka

import (
	"context"
	"log/slog"
	"os"

	"github.com/chronik-stream/chronik/internal/group"
)

// newFakeGroups returns a coordinator over an in-memory __consumer_offsets with every
// partition loaded, for the test Backends (which coordinate every group themselves).
func newFakeGroups() *group.Coordinator {
	return newFakeGroupsOn(group.NewMemStore(group.DefaultPartitions))
}

// newFakeGroupsOn is newFakeGroups over a given store (a restart keeps the store).
func newFakeGroupsOn(store *group.MemStore) *group.Coordinator {
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("CORE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := group.NewCoordinator(group.Config{Store: store, Logger: log})
	for p := range int32(group.DefaultPartitions) {
		if err := c.Load(context.Background(), p); err != nil {
			panic(err)
		}
	}
	return c
}
