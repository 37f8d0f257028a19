package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// errCode maps an error returned by the Backend to a Kafka error code: nil is 0 (none),
// a (possibly wrapped) *kerr.Error is its own code, context.DeadlineExceeded is
// REQUEST_TIMED_OUT, and anything else is UNKNOWN_SERVER_ERROR.
func errCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}

// errMessage is the error message to put in responses that carry one: nil for nil,
// otherwise err.Error().
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
