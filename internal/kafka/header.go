package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request header parsing. Request header v1 is api key, api version, correlation id and a
// nullable client id; v2 (used by flexible versions, ApiVersions v3+ included) appends a
// tagged-field section. Header v0 (no client id) is only used by ControlledShutdown v0,
// which we do not serve.

// requestHeader is the parsed fixed part of a request header.
type requestHeader struct {
	key      int16
	version  int16
	corr     int32
	clientID *string
}

// decodeErrKind classifies why a request frame could not be decoded.
type decodeErrKind int

const (
	errMalformedHeader    decodeErrKind = iota // header bytes malformed
	errUnknownKey                              // api key not registered
	errUnsupportedVersion                      // registered key, version out of range
	errMalformedBody                           // body does not decode at that version
)

// decodeError is returned by decodeRequest; hdr is valid unless kind is errMalformedHeader.
type decodeError struct {
	kind decodeErrKind
	hdr  requestHeader
	err  error
}

func (e *decodeError) Error() string {
	switch e.kind {
	case errUnknownKey:
		return fmt.Sprintf("unknown api key %d", e.hdr.key)
	case errUnsupportedVersion:
		return fmt.Sprintf("unsupported version %d of %s (key %d)", e.hdr.version, kmsg.NameForKey(e.hdr.key), e.hdr.key)
	case errMalformedBody:
		return fmt.Sprintf("malformed %s v%d request: %v", kmsg.NameForKey(e.hdr.key), e.hdr.version, e.err)
	default:
		return fmt.Sprintf("malformed request header: %v", e.err)
	}
}

var errShort = errors.New("not enough bytes")

// parseHeaderV1 parses the v1 request header fields at the start of b and returns them
// and the rest of b.
func parseHeaderV1(b []byte) (requestHeader, []byte, error) {
	var h requestHeader
	if len(b) < 10 {
		return h, nil, errShort
	}
	h.key = int16(binary.BigEndian.Uint16(b))
	h.version = int16(binary.BigEndian.Uint16(b[2:]))
	h.corr = int32(binary.BigEndian.Uint32(b[4:]))
	n := int16(binary.BigEndian.Uint16(b[8:]))
	b = b[10:]
	switch {
	case n == -1:
	case n < -1:
		return h, nil, fmt.Errorf("invalid client id length %d", n)
	case int(n) > len(b):
		return h, nil, errShort
	default:
		id := string(b[:n])
		h.clientID = &id
		b = b[n:]
	}
	return h, b, nil
}

// uvarint reads an unsigned varint of at most 5 bytes (a uint32) from b.
func uvarint(b []byte) (uint32, []byte, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, nil, errShort
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, nil, errors.New("varint overflows uint32")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, b[i+1:], nil
		}
	}
	return 0, nil, errors.New("varint too long")
}

// skipTags skips a tagged-field section at the start of b.
func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	for ; n > 0; n-- {
		if _, b, err = uvarint(b); err != nil { // tag
			return nil, err
		}
		var size uint32
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if uint64(size) > uint64(len(b)) {
			return nil, errShort
		}
		b = b[size:]
	}
	return b, nil
}

// decodeRequest parses a whole request frame: the header, the version check against the
// registration table and the body. Errors are *decodeError.
func decodeRequest(frame []byte) (*Request, error) {
	hdr, rest, err := parseHeaderV1(frame)
	if err != nil {
		return nil, &decodeError{kind: errMalformedHeader, err: err}
	}
	a, ok := apis[hdr.key]
	if !ok {
		return nil, &decodeError{kind: errUnknownKey, hdr: hdr}
	}
	if hdr.version < a.minVersion || hdr.version > a.maxVersion {
		return nil, &decodeError{kind: errUnsupportedVersion, hdr: hdr}
	}
	body := kmsg.RequestForKey(hdr.key)
	if body == nil { // registered but unknown to kmsg: a registration bug
		return nil, &decodeError{kind: errUnknownKey, hdr: hdr}
	}
	body.SetVersion(hdr.version)
	if body.IsFlexible() {
		if rest, err = skipTags(rest); err != nil {
			return nil, &decodeError{kind: errMalformedHeader, hdr: hdr, err: err}
		}
	}
	if err := body.ReadFrom(rest); err != nil {
		return nil, &decodeError{kind: errMalformedBody, hdr: hdr, err: err}
	}
	return &Request{
		Key:           hdr.key,
		Version:       hdr.version,
		CorrelationID: hdr.corr,
		ClientID:      hdr.clientID,
		Body:          body,
	}, nil
}
