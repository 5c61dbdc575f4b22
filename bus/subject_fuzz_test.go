package bus

import (
	"errors"
	"testing"
)

// FuzzParseMapSubject: any subject parses or is refused with ErrSubject,
// never a panic, and a parsed subject is rebuilt to itself.
func FuzzParseMapSubject(f *testing.F) {
	for _, s := range []string{"run.z.1.3", "r.e.0.0", "a.b.c.d", "run.z.-1.2", "run.z.1", "", "run.e.99999999999999999999.1", "ru n.z.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		run, kind, layer, index, err := ParseMapSubject(s)
		if err != nil {
			if !errors.Is(err, ErrSubject) {
				t.Fatalf("ParseMapSubject(%q): %v is not an ErrSubject", s, err)
			}
			return
		}
		if layer < 0 || index < 0 || (kind != KindState && kind != KindError) || run == "" {
			t.Fatalf("ParseMapSubject(%q) = %q %v %d %d", s, run, kind, layer, index)
		}
	})
}

func TestConnectRefusesScheme(t *testing.T) {
	for _, url := range []string{"foo://x", "http://127.0.0.1:4222", "nats://127.0.0.1:1,ftp://y"} {
		if _, err := Connect(url); !errors.Is(err, ErrScheme) {
			t.Errorf("Connect(%q) = %v, want ErrScheme", url, err)
		}
	}
}
