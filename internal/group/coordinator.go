// Package group is the consumer-group coordinator (Kafka's classic group protocol).
package group

// Coordinator is the consumer-group coordinator of one node.
type Coordinator struct{}
