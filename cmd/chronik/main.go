// Command chronik is Chronik's admin and client CLI: topics, produce, consume, cluster
// status and the whole-system benchmark. It speaks the Kafka protocol (franz-go), so it
// works against any Kafka-compatible broker.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
