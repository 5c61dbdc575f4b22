package bus

import (
	"fmt"
	"strconv"
	"strings"
)

// Subjects are dot-separated tokens, as in NATS. The runtime's subjects:
//
//	<run>.z.<layer>.<map>    state map (KindState frames)
//	<run>.e.<layer>.<map>    error map (KindError frames)
//	<run>.ctl.<...>          coordinator control
//
// Subscriptions may use wildcards with NATS semantics: "*" matches exactly
// one token, ">" (last token only) matches one or more trailing tokens, so
// "r1.z.>" receives every state map of run r1 and "r1.*.1.*" every map of
// layer 1.

// Subject tokens for the two populations of a feature map and for control.
const (
	StateToken   = "z"
	ErrorToken   = "e"
	ControlToken = "ctl"
)

// ValidToken reports whether tok can be one token of a subject: non-empty,
// no '.', no wildcard character ('*', '>'), no whitespace or control
// characters. Run ids and names used inside subjects must be valid tokens.
func ValidToken(tok string) error {
	if tok == "" {
		return fmt.Errorf("empty token: %w", ErrSubject)
	}
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c == '.':
			return fmt.Errorf("token %q contains '.': %w", tok, ErrSubject)
		case c == '*' || c == '>':
			return fmt.Errorf("token %q contains wildcard %q: %w", tok, c, ErrSubject)
		case c <= ' ' || c == 0x7f:
			return fmt.Errorf("token %q contains space or control character: %w", tok, ErrSubject)
		}
	}
	return nil
}

// ValidSubject reports whether s is a literal subject that can be published
// to: one or more valid tokens separated by single dots.
func ValidSubject(s string) error {
	return validate(s, false)
}

// ValidPattern reports whether s is a valid subscription subject: like
// ValidSubject, but a token may also be "*", and the last token may be ">".
func ValidPattern(s string) error {
	return validate(s, true)
}

func validate(s string, wildcards bool) error {
	if s == "" {
		return fmt.Errorf("empty subject: %w", ErrSubject)
	}
	rest := s
	for {
		tok, tail, more := strings.Cut(rest, ".")
		switch {
		case wildcards && tok == "*":
		case wildcards && tok == ">":
			if more {
				return fmt.Errorf("subject %q: '>' must be the last token: %w", s, ErrSubject)
			}
		default:
			if err := ValidToken(tok); err != nil {
				return fmt.Errorf("subject %q: %w", s, err)
			}
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// Subject joins tokens into a literal subject, validating each.
func Subject(tokens ...string) (string, error) {
	if len(tokens) == 0 {
		return "", fmt.Errorf("no tokens: %w", ErrSubject)
	}
	for _, t := range tokens {
		if err := ValidToken(t); err != nil {
			return "", err
		}
	}
	return strings.Join(tokens, "."), nil
}

// StateSubject returns "<run>.z.<layer>.<index>", the subject of state map
// index of layer.
func StateSubject(run string, layer, index int) (string, error) {
	return mapSubject(run, StateToken, layer, index)
}

// ErrorSubject returns "<run>.e.<layer>.<index>", the subject of error map
// index of layer.
func ErrorSubject(run string, layer, index int) (string, error) {
	return mapSubject(run, ErrorToken, layer, index)
}

func mapSubject(run, pop string, layer, index int) (string, error) {
	if err := ValidToken(run); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	if layer < 0 || index < 0 {
		return "", fmt.Errorf("layer %d, map %d: negative index: %w", layer, index, ErrSubject)
	}
	b := make([]byte, 0, len(run)+len(pop)+24)
	b = append(b, run...)
	b = append(b, '.')
	b = append(b, pop...)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(layer), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(index), 10)
	return string(b), nil
}

// ControlSubject returns "<run>.ctl.<parts...>", e.g. ControlSubject("r1",
// "step") is "r1.ctl.step".
func ControlSubject(run string, parts ...string) (string, error) {
	if err := ValidToken(run); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("control subject needs at least one token after %q: %w", ControlToken, ErrSubject)
	}
	return Subject(append([]string{run, ControlToken}, parts...)...)
}

// ParseMapSubject splits a state or error map subject
// "<run>.{z|e}.<layer>.<index>" into its parts; kind is KindState for "z"
// and KindError for "e".
func ParseMapSubject(subject string) (run string, kind Kind, layer, index int, err error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 {
		return "", 0, 0, 0, fmt.Errorf("%q is not <run>.{z|e}.<layer>.<map>: %w", subject, ErrSubject)
	}
	if err := ValidToken(parts[0]); err != nil {
		return "", 0, 0, 0, fmt.Errorf("%q: run id: %w", subject, err)
	}
	switch parts[1] {
	case StateToken:
		kind = KindState
	case ErrorToken:
		kind = KindError
	default:
		return "", 0, 0, 0, fmt.Errorf("%q: population %q is neither z nor e: %w", subject, parts[1], ErrSubject)
	}
	layer, err1 := strconv.Atoi(parts[2])
	index, err2 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || layer < 0 || index < 0 ||
		strconv.Itoa(layer) != parts[2] || strconv.Itoa(index) != parts[3] {
		return "", 0, 0, 0, fmt.Errorf("%q: layer and map must be non-negative integers: %w", subject, ErrSubject)
	}
	return parts[0], kind, layer, index, nil
}

// Match reports whether the literal subject matches pattern under NATS
// rules: "*" matches one token, a final ">" one or more tokens. Neither
// argument is validated; Match allocates nothing.
func Match(pattern, subject string) bool {
	for {
		ptok, prest, pmore := strings.Cut(pattern, ".")
		stok, srest, smore := strings.Cut(subject, ".")
		switch {
		case ptok == ">" && !pmore:
			return true // subject has at least this token left
		case ptok != "*" && ptok != stok:
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}
