package data

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadImageFolder: a folder tree described by the input (lines of
// "path", "path=<bytes>" or "path->target" for a symbolic link; a .png
// file given as "png" gets a real 2×2 image) loads or fails with an error,
// never a panic, a hang on a link cycle, or an image out of range.
func FuzzLoadImageFolder(f *testing.F) {
	for _, s := range []string{
		"cat/a.png=png\ndog/b.png=png",
		"a.png=png\nsub/b.jpg=not a jpeg",
		"cat/a.png=png\ncat/loop->..",
		"x/y/z/deep.png=png\nx/link->x",
		"empty/\nREADME.txt=hello",
		"../escape.png=png",
	} {
		f.Add(s)
	}
	var pngBytes bytes.Buffer
	if err := png.Encode(&pngBytes, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tree string) {
		root := t.TempDir()
		for i, line := range strings.Split(tree, "\n") {
			if i >= 16 || line == "" {
				continue
			}
			name, content, isFile := strings.Cut(line, "=")
			name, target, isLink := strings.Cut(name, "->")
			clean := filepath.Clean(filepath.FromSlash(name))
			if clean == "." || filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") || strings.ContainsRune(clean, 0) {
				continue
			}
			path := filepath.Join(root, clean)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				continue
			}
			switch {
			case isLink:
				_ = os.Symlink(target, path)
			case isFile:
				data := []byte(content)
				if content == "png" {
					data = pngBytes.Bytes()
				}
				_ = os.WriteFile(path, data, 0o644)
			default:
				_ = os.MkdirAll(path, 0o755)
			}
		}
		s, err := LoadImageFolder(context.Background(), root)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("a loaded folder is not a valid set: %v", err)
		}
		for _, v := range s.Images {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("pixel %v out of [0, 1]", v)
			}
		}
	})
}
