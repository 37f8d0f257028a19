package group

import "time"

// Clock is the coordinator's source of time and timers. Tests inject a manual clock so
// that session and rebalance timeouts fire exactly when the test advances time.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a manual clock, from the goroutine
	// that advances time) once d has passed, unless the returned Timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it did. It does
	// not wait for a call already running.
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
