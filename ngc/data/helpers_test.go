package data

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// dataPath returns the path of a file or folder under the data directory.
// When the data is missing it fails the test if NGC_DATA_DIR was set
// explicitly (the data was promised, as in CI) and skips it otherwise.
func dataPath(t testing.TB, parts ...string) string {
	t.Helper()
	dir, err := DataDir()
	if err != nil {
		if DataDirExplicit() {
			t.Fatalf("data directory: %v", err)
		}
		t.Skipf("data directory not found (set %s): %v", DataDirEnv, err)
	}
	p := filepath.Join(append([]string{dir}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		if DataDirExplicit() {
			t.Fatalf("%v (%s is set, so the file must be there)", err, DataDirEnv)
		}
		t.Skipf("data file missing: %v", err)
	}
	return p
}

// mnistDir returns the MNIST folder of the GoMNIST module. The module is a
// dependency compiled into this test, so it must be present.
func mnistDir(t testing.TB) string {
	t.Helper()
	dir, err := MNISTDir(context.Background())
	if err != nil {
		t.Fatalf("MNISTDir: %v", err)
	}
	return dir
}

// imageHash returns a digest of image i of s, to compare images across sets.
func imageHash(s *Set, i int) [32]byte {
	h := sha256.New()
	var b [4]byte
	for _, v := range s.Image(i) {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// checkRange fails the test unless every value of s is in [0, 1] and the set
// is consistent.
func checkRange(t testing.TB, s *Set) {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, v := range s.Images {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("%s: value %d = %v not in [0, 1]", s.Name, i, v)
		}
	}
}

// writeFile writes b to name inside dir (creating folders) and returns the
// path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// synthSet returns a set of n images whose pixels all equal i/n for image i,
// label i%k, for split and subset tests.
func synthSet(n, k int) *Set {
	s := &Set{Name: "synth", Images: make([]float32, n*ImageSize), Labels: make([]int, n)}
	for i := range n {
		for j := range ImageSize {
			s.Images[i*ImageSize+j] = float32(i) / float32(n)
		}
		s.Labels[i] = i % k
	}
	return s
}
