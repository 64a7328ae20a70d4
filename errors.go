package revloop

import (
	"errors"
	"fmt"
	"strings"
)

// Error kinds every part of revloop wraps its errors in, so that the API can
// answer each with one status code (see api.statusOf) and the CLI with one
// line.
var (
	ErrInvalid      = errors.New("invalid input")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrForbidden    = errors.New("forbidden")
	ErrUnauthorized = errors.New("unauthorized")
	ErrUnavailable  = errors.New("unavailable")
)

// FieldError says which input field is wrong and why. It is an ErrInvalid.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is makes a FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Extras adds the field to an API problem body.
func (e *FieldError) Extras() map[string]any {
	return map[string]any{"field": e.Field, "reason": e.Reason}
}

// Invalid returns a FieldError for field.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// TransitionError refuses a state change and names the states allowed from
// the current one. It is an ErrConflict.
type TransitionError struct {
	Entity  string
	From    string
	To      string
	Allowed []string
}

func (e *TransitionError) Error() string {
	allowed := "none"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, ", ")
	}
	return fmt.Sprintf("%s cannot go from %s to %s (allowed: %s)", e.Entity, e.From, e.To, allowed)
}

// Is makes a TransitionError match ErrConflict.
func (e *TransitionError) Is(target error) bool { return target == ErrConflict }

// Extras adds the states to an API problem body.
func (e *TransitionError) Extras() map[string]any {
	allowed := e.Allowed
	if allowed == nil {
		allowed = []string{}
	}
	return map[string]any{"from": e.From, "to": e.To, "allowed": allowed}
}
