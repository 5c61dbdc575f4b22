package data

import (
	"context"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Split
		ok   bool
	}{
		{"train", Train, true}, {"Validation", Validation, true}, {"valid", Validation, true},
		{"val", Validation, true}, {"TEST", Test, true}, {"dev", 0, false}, {"", 0, false},
	} {
		got, err := ParseSplit(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSplit(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok {
			if back, _ := ParseSplit(got.String()); back != got {
				t.Errorf("%v does not round-trip through String", got)
			}
		}
	}
	if s := Split(7).String(); s != "Split(7)" {
		t.Errorf("Split(7).String() = %q", s)
	}
}

func TestValidationSize(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, 0}, {7, 0}, {50, 5}, {4000, 400}, {9999, 999}, {10000, 5000}, {50000, 5000}, {73257, 5000},
	} {
		if got := ValidationSize(tc.n); got != tc.want {
			t.Errorf("ValidationSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestDataDir(t *testing.T) {
	t.Setenv(DataDirEnv, "/somewhere/data")
	if d, err := DataDir(); err != nil || d != "/somewhere/data" || !DataDirExplicit() {
		t.Fatalf("explicit: %q, %v, explicit=%v", d, err, DataDirExplicit())
	}
	t.Setenv(DataDirEnv, "")
	if DataDirExplicit() {
		t.Fatal("empty NGC_DATA_DIR counts as explicit")
	}
	// ../shared/data beside the module root, from a folder below the root.
	base := t.TempDir()
	root := filepath.Join(base, "proj")
	writeFile(t, root, "go.mod", []byte("module example.com/proj\n"))
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(root, "a", "b"))
	if _, err := DataDir(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no shared/data yet: %v", err)
	}
	want := filepath.Join(base, "shared", "data")
	if err := os.MkdirAll(want, 0o755); err != nil {
		t.Fatal(err)
	}
	if d, err := DataDir(); err != nil || d != want {
		t.Fatalf("DataDir() = %q, %v; want %q", d, err, want)
	}
}

func TestLoadOptionErrors(t *testing.T) {
	ctx := context.Background()
	for _, opts := range []Options{
		{Dataset: "imagenet"},
		{Dataset: CIFAR10Name, MaxImages: -1},
		{Dataset: CIFAR10Name, Validation: -1},
		{Dataset: CIFAR10Name, Split: Split(3)},
		{Dataset: FolderName},
	} {
		if _, err := Load(ctx, opts); !errors.Is(err, ErrOptions) {
			t.Errorf("Load(%+v): %v, want ErrOptions", opts, err)
		}
	}
}

// uniqueCIFAR returns n records whose images are all distinct (byte 1 is
// base+i), with label i%10.
func uniqueCIFAR(base, n int) []byte {
	var b []byte
	for i := range n {
		rec := make([]byte, CIFAR10RecordSize)
		rec[0] = byte(i % 10)
		rec[1], rec[2] = byte(base+i), byte((base+i)>>8)
		b = append(b, rec...)
	}
	return b
}

// checkPartition checks that train and valid are disjoint and together make
// up exactly the images of all.
func checkPartition(t *testing.T, all, train, valid *Set) {
	t.Helper()
	if train.Len()+valid.Len() != all.Len() {
		t.Fatalf("%d + %d images, want %d", train.Len(), valid.Len(), all.Len())
	}
	seen := make(map[[32]byte]bool)
	for i := range all.Len() {
		seen[imageHash(all, i)] = false
	}
	for _, part := range []*Set{train, valid} {
		for i := range part.Len() {
			h := imageHash(part, i)
			used, ok := seen[h]
			if !ok || used {
				t.Fatalf("%s image %d: unknown or repeated", part.Name, i)
			}
			seen[h] = true
		}
	}
}

func TestLoadCIFAR10BinDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, dir, "data_batch_1.bin", uniqueCIFAR(0, 30))
	writeFile(t, dir, "data_batch_2.bin", uniqueCIFAR(100, 20))
	writeFile(t, dir, "test_batch.bin", uniqueCIFAR(200, 10))
	load := func(split Split, maxImages, validation int, seed int64) *Set {
		t.Helper()
		s, err := Load(ctx, Options{Dataset: CIFAR10Name, Path: dir, Split: split, MaxImages: maxImages, Validation: validation, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		checkRange(t, s)
		return s
	}
	all, err := LoadCIFAR10Bin(filepath.Join(dir, "data_batch_1.bin"), filepath.Join(dir, "data_batch_2.bin"))
	if err != nil {
		t.Fatal(err)
	}
	train, valid := load(Train, 0, 0, 1), load(Validation, 0, 0, 1)
	if train.Len() != 45 || valid.Len() != 5 || train.Name != "cifar10/train" || valid.Name != "cifar10/validation" {
		t.Fatalf("%s %d, %s %d; want 45 and 5", train.Name, train.Len(), valid.Name, valid.Len())
	}
	checkPartition(t, all, train, valid)
	if test := load(Test, 0, 0, 1); test.Len() != 10 || test.Image(0)[0] != 200.0/255 {
		t.Fatalf("test: %d images", test.Len())
	}
	// Another seed holds out other images; an explicit size is obeyed.
	if other := load(Validation, 0, 0, 2); slices.Equal(other.Images, valid.Images) {
		t.Error("seeds 1 and 2 hold out the same images")
	}
	train12, valid12 := load(Train, 0, 12, 1), load(Validation, 0, 12, 1)
	checkPartition(t, all, train12, valid12)
	if valid12.Len() != 12 {
		t.Errorf("Validation: 12 gave %d images", valid12.Len())
	}
	// MaxImages caps after the split, deterministically.
	capped := load(Train, 7, 0, 1)
	if capped.Len() != 7 || !slices.Equal(capped.Images, load(Train, 7, 0, 1).Images) {
		t.Fatalf("capped: %d images or not deterministic", capped.Len())
	}
	if _, err := Load(ctx, Options{Dataset: CIFAR10Name, Path: dir, Validation: 50}); !errors.Is(err, ErrNoImages) {
		t.Errorf("holding out everything: %v", err)
	}
	// A single file is a pool.
	one := filepath.Join(dir, "test_batch.bin")
	if s, err := Load(ctx, Options{Dataset: CIFAR10Name, Path: one, Split: Test}); err != nil || s.Len() != 10 {
		t.Errorf("single file, test: %v", err)
	}
	if s, err := Load(ctx, Options{Dataset: CIFAR10Name, Path: one, Split: Validation}); err != nil || s.Len() != 1 {
		t.Errorf("single file, validation: %v", err)
	}
	// A folder with neither batches nor image trees.
	if _, err := Load(ctx, Options{Dataset: CIFAR10Name, Path: t.TempDir()}); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty folder: %v", err)
	}
}

func TestLoadCIFAR10Real(t *testing.T) {
	dir := dataPath(t, "cifar10", "bin")
	ctx := context.Background()
	for _, tc := range []struct {
		split Split
		n     int
	}{{Train, 3600}, {Validation, 400}, {Test, 1000}} {
		s, err := Load(ctx, Options{Dataset: CIFAR10Name, Path: dir, Split: tc.split, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != tc.n {
			t.Errorf("%v: %d images, want %d", tc.split, s.Len(), tc.n)
		}
	}
}

// writeTree writes n distinct 32×32 PNGs into each class folder under dir.
func writeTree(t *testing.T, dir string, classes []string, n, base int) {
	t.Helper()
	for c, class := range classes {
		for i := range n {
			v := uint8(base + c*n + i)
			img := uniformImage(32, 32, color.NRGBA{v, 255 - v, uint8(c), 255})
			writeFile(t, dir, filepath.Join(class, string(rune('a'+i))+".png"), encodePNG(t, img))
		}
	}
}

func TestLoadTrees(t *testing.T) {
	ctx := context.Background()
	classes := []string{"cat", "dog"}
	// A CIFAR-10-style tree (train/test) as the default cifar10 location.
	dataDir := t.TempDir()
	t.Setenv(DataDirEnv, dataDir)
	jpeg := filepath.Join(dataDir, "cifar10", "jpeg")
	writeTree(t, filepath.Join(jpeg, "train"), classes, 10, 0)
	writeTree(t, filepath.Join(jpeg, "test"), classes, 3, 100)
	all, err := LoadImageFolder(ctx, filepath.Join(jpeg, "train"))
	if err != nil {
		t.Fatal(err)
	}
	train, err := Load(ctx, Options{Dataset: CIFAR10Name, Split: Train, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	valid, err := Load(ctx, Options{Dataset: CIFAR10Name, Split: Validation, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, all, train, valid)
	test, err := Load(ctx, Options{Dataset: CIFAR10Name, Split: Test})
	if err != nil || test.Len() != 6 || !slices.Equal(test.Classes, classes) {
		t.Fatalf("test: %v", err)
	}
	// The same tree through "folder".
	if s, err := Load(ctx, Options{Dataset: FolderName, Path: jpeg, Split: Validation, Seed: 5}); err != nil || !slices.Equal(s.Images, valid.Images) {
		t.Errorf("folder with split dirs: %v", err)
	}
	// A CINIC-10 tree has its own validation folder.
	cinic := filepath.Join(dataDir, "cinic10")
	writeTree(t, filepath.Join(cinic, "train"), classes, 4, 0)
	writeTree(t, filepath.Join(cinic, "valid"), classes, 2, 50)
	writeTree(t, filepath.Join(cinic, "test"), classes, 1, 90)
	for _, tc := range []struct {
		split Split
		n     int
	}{{Train, 8}, {Validation, 4}, {Test, 2}} {
		s, err := Load(ctx, Options{Dataset: CINIC10Name, Split: tc.split})
		if err != nil || s.Len() != tc.n {
			t.Errorf("cinic10 %v: %v, want %d images", tc.split, err, tc.n)
		}
	}
	// A plain class tree is a pool.
	plain := filepath.Join(cinic, "train")
	for _, tc := range []struct {
		split Split
		n     int
	}{{Train, 8}, {Validation, 0}, {Test, 8}} {
		s, err := Load(ctx, Options{Dataset: FolderName, Path: plain, Split: tc.split})
		if tc.n == 0 {
			// ValidationSize(8) is 0: an empty validation set is an error.
			if !errors.Is(err, ErrNoImages) {
				t.Errorf("pool %v: %v, want ErrNoImages", tc.split, err)
			}
			continue
		}
		if err != nil || s.Len() != tc.n {
			t.Errorf("pool %v: %v, want %d images", tc.split, err, tc.n)
		}
	}
	if s, err := Load(ctx, Options{Dataset: FolderName, Path: plain, Split: Validation, Validation: 3}); err != nil || s.Len() != 3 {
		t.Errorf("pool validation of 3: %v", err)
	}
}

func TestLoadSVHN(t *testing.T) {
	ctx := context.Background()
	le := binaryLE()
	dataDir := t.TempDir()
	t.Setenv(DataDirEnv, dataDir)
	svhn := filepath.Join(dataDir, "svhn")
	y := make([]float64, 40)
	for i := range y {
		y[i] = float64(i%10 + 1)
	}
	writeFile(t, svhn, "train_32x32.mat", svhnFile(t, le, true, []int{32, 32, 3, 40}, y))
	writeFile(t, svhn, "test_32x32.mat", svhnFile(t, le, false, []int{32, 32, 3, 2}, []float64{10, 3}))
	for _, tc := range []struct {
		split Split
		n     int
	}{{Train, 36}, {Validation, 4}, {Test, 2}} {
		s, err := Load(ctx, Options{Dataset: SVHNName, Split: tc.split})
		if err != nil || s.Len() != tc.n || s.Name != "svhn/"+tc.split.String() {
			t.Errorf("svhn %v: %v, want %d images", tc.split, err, tc.n)
		}
	}
	if _, err := Load(ctx, Options{Dataset: SVHNName, Path: filepath.Join(svhn, "missing")}); err == nil {
		t.Error("missing svhn path: no error")
	}
}

func TestLoadSVHNReal(t *testing.T) {
	p := dataPath(t, "svhn", "test_32x32.mat")
	t.Setenv(DataDirEnv, filepath.Dir(filepath.Dir(p)))
	s, err := Load(context.Background(), Options{Dataset: SVHNName, Split: Test})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 7 {
		t.Errorf("%d images, want 7", s.Len())
	}
}

func TestLoadColorMNISTSplits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var train, test [][]byte
	var trainLabels, testLabels []byte
	for i := range 30 {
		img := make([]byte, 784)
		img[i] = 255 // distinct images
		train, trainLabels = append(train, img), append(trainLabels, byte(i%10))
	}
	for i := range 10 {
		test, testLabels = append(test, make([]byte, 784)), append(testLabels, byte(i))
	}
	writeMNIST(t, dir, "train", train, trainLabels, true)
	writeMNIST(t, dir, "t10k", test, testLabels, true)
	all, err := LoadColorMNIST(dir, true, 9)
	if err != nil {
		t.Fatal(err)
	}
	load := func(split Split) *Set {
		s, err := Load(ctx, Options{Dataset: ColorMNISTName, Path: dir, Split: split, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Digits) != s.Len() {
			t.Fatalf("%v: %d digits for %d images", split, len(s.Digits), s.Len())
		}
		for i, d := range s.Digits {
			if s.Labels[i] != binaryLabel(d) {
				t.Fatalf("%v image %d: label %d does not match digit %d", split, i, s.Labels[i], d)
			}
		}
		return s
	}
	tr, va := load(Train), load(Validation)
	if tr.Len() != 27 || va.Len() != 3 {
		t.Fatalf("train %d, validation %d; want 27 and 3", tr.Len(), va.Len())
	}
	checkPartition(t, all, tr, va)
	if te := load(Test); te.Len() != 10 || te.Name != "color-mnist/test" {
		t.Fatalf("test: %d images", te.Len())
	}
}
