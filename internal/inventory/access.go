package inventory

import (
	"errors"
)

// Why a cloud could not be used at all, before anything was listed.
const (
	// AccessUnreachable: the cloud's endpoint did not answer (connection
	// refused or reset, no route, DNS failure, no answer in time).
	AccessUnreachable = "unreachable"
	// AccessNoCredentials: the credential chain found nothing to sign
	// requests with.
	AccessNoCredentials = "no-credentials"
	// AccessRefused: the cloud answered and rejected the credentials
	// (invalid, expired, or not allowed to say who they are).
	AccessRefused = "refused"
	// AccessFailed: any other failure of the identity check.
	AccessFailed = "failed"
)

// AccessError says that a cloud could not be used at all: the identity
// check that runs before any listing failed. It is one error for the
// whole cloud, in the words a person acts on, instead of one long SDK
// error per service and region; the scan stops with it, and servers can
// tell it from a partial scan (errors.As) to report it once and back off.
type AccessError struct {
	// Provider is "aws" or "azure".
	Provider string
	// Reason is one of the Access* constants.
	Reason string
	// Message is the whole sentence shown to people.
	Message string
	// Err is the underlying error, for errors.Is/As.
	Err error
}

func (e *AccessError) Error() string { return e.Message }

func (e *AccessError) Unwrap() error { return e.Err }

// IsAccessError reports whether err is (or wraps) an AccessError.
func IsAccessError(err error) bool {
	var ae *AccessError
	return errors.As(err, &ae)
}
