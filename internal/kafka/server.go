package kafka

import (
	"log/slog"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config configures the Kafka listener.
type Config struct {
	// Addr is the listen address, e.g. "0.0.0.0:9092"; port 0 picks a free port.
	Addr string
	// MaxRequestBytes bounds one request frame; larger frames close the connection.
	MaxRequestBytes int32
}

// Server accepts Kafka connections and answers them through a Backend.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
}

// Request is one decoded request as a handler sees it.
type Request struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      *string
	// Body is the decoded request; its version is already set.
	Body kmsg.Request
}
