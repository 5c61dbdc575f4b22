package bus

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of these
// (or a context error), so callers can test with errors.Is.
var (
	// ErrMagic reports a frame that does not start with the frame magic.
	ErrMagic = errors.New("bus: bad frame magic")
	// ErrVersion reports a frame of a wire version this package does not
	// speak, or with flag bits it does not know.
	ErrVersion = errors.New("bus: unsupported frame version")
	// ErrTruncated reports a frame that ends before its declared contents.
	ErrTruncated = errors.New("bus: truncated frame")
	// ErrFrameTooLarge reports a declared or actual size (payload, string,
	// encoded frame) over the configured Limits or the server's max payload.
	ErrFrameTooLarge = errors.New("bus: frame too large")
	// ErrShape reports a shape with more than MaxDims dimensions, a negative
	// dimension, or a product that differs from the payload's float count.
	ErrShape = errors.New("bus: shape does not match payload")
	// ErrChecksum reports a CRC-32C mismatch of the header or the payload.
	ErrChecksum = errors.New("bus: checksum mismatch")
	// ErrCorrupt reports a frame that is otherwise malformed: bad snappy
	// data, a compressed length that does not fit, trailing bytes.
	ErrCorrupt = errors.New("bus: corrupt frame")
	// ErrNilFrame reports a nil *Frame given to Publish or AppendFrame.
	ErrNilFrame = errors.New("bus: nil frame")
	// ErrSubject reports an invalid subject or subject token.
	ErrSubject = errors.New("bus: invalid subject")
	// ErrClosed reports use of a bus or subscription after Close or
	// Unsubscribe.
	ErrClosed = errors.New("bus: closed")
	// ErrSlowConsumer reports frames dropped because a subscriber's bounded
	// queue overflowed (NATS bus). It is delivered to the error handler.
	ErrSlowConsumer = errors.New("bus: slow consumer, frames dropped")
)

// FrameError describes a frame that could not be decoded or was rejected.
// It unwraps to one of the sentinel errors (ErrMagic, ErrChecksum, ...).
type FrameError struct {
	// Subject is the subject the frame arrived on, if known.
	Subject string
	// Sender is the sender named in the header, or "" if decoding failed
	// before the sender could be read. When Err is a header checksum
	// mismatch the name itself may be damaged.
	Sender string
	// Err is the cause; it wraps a sentinel error.
	Err error
}

// Error implements error.
func (e *FrameError) Error() string {
	switch {
	case e.Sender != "" && e.Subject != "":
		return fmt.Sprintf("bus: frame from %q on %q: %v", e.Sender, e.Subject, e.Err)
	case e.Sender != "":
		return fmt.Sprintf("bus: frame from %q: %v", e.Sender, e.Err)
	case e.Subject != "":
		return fmt.Sprintf("bus: frame on %q (sender unknown): %v", e.Subject, e.Err)
	default:
		return fmt.Sprintf("bus: frame (sender unknown): %v", e.Err)
	}
}

// Unwrap returns the cause.
func (e *FrameError) Unwrap() error { return e.Err }

// Reason returns a short, stable name for the kind of rejection, as used as
// key of Stats.RejectedByReason: "magic", "version", "truncated",
// "too_large", "shape", "checksum", "corrupt" or "other".
func (e *FrameError) Reason() string { return reason(e.Err) }

func reason(err error) string {
	switch {
	case errors.Is(err, ErrMagic):
		return "magic"
	case errors.Is(err, ErrVersion):
		return "version"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrFrameTooLarge):
		return "too_large"
	case errors.Is(err, ErrShape):
		return "shape"
	case errors.Is(err, ErrChecksum):
		return "checksum"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	default:
		return "other"
	}
}
