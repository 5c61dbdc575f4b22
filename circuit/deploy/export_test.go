package deploy

import "time"

// WithJoinReminder shortens the interval of the join reminders for tests.
func WithJoinReminder(d time.Duration) Option { return func(c *config) { c.remind = d } }

// DecodeJournal exposes the journal decoder to the fuzz test.
func DecodeJournal(b []byte) error {
	_, err := decodeJournal(b)
	return err
}
