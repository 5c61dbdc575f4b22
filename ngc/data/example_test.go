package data_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/convngc/convngc/ngc/data"
)

// writeBatch writes a CIFAR-10 binary batch of n records into dir: record i
// has label i%10 and every byte equal to 10·i.
func writeBatch(dir, name string, n int) {
	var b []byte
	for i := range n {
		rec := make([]byte, data.CIFAR10RecordSize)
		rec[0] = byte(i % 10)
		for k := 1; k < len(rec); k++ {
			rec[k] = byte(10 * i)
		}
		b = append(b, rec...)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		log.Fatal(err)
	}
}

func ExampleLoadCIFAR10Bin() {
	dir, err := os.MkdirTemp("", "cifar")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	writeBatch(dir, "test_batch.bin", 4)

	s, err := data.LoadCIFAR10Bin(filepath.Join(dir, "test_batch.bin"))
	if err != nil {
		log.Fatal(err)
	}
	img := s.Image(3) // R plane, then G, then B; values in [0, 1]
	fmt.Println(s.Len(), "images of", len(img), "values")
	fmt.Printf("image 3: %s, red(0,0) = %.4f\n", s.Classes[s.Labels[3]], img[0])
	// Output:
	// 4 images of 3072 values
	// image 3: cat, red(0,0) = 0.1176
}

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "cifar")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	writeBatch(dir, "data_batch_1.bin", 100)
	writeBatch(dir, "test_batch.bin", 20)

	// Point Path at a folder of official binary batches. Validation is a
	// hold-out of the training batches chosen from the seed (5,000 images of
	// the full set; a tenth of this small one).
	for _, split := range []data.Split{data.Train, data.Validation, data.Test} {
		s, err := data.Load(context.Background(), data.Options{
			Dataset: data.CIFAR10Name,
			Path:    dir,
			Split:   split,
			Seed:    1,
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s.Name, s.Len())
	}
	// Output:
	// cifar10/train 90
	// cifar10/validation 10
	// cifar10/test 20
}

func ExampleSet_Split() {
	s := &data.Set{
		Images: make([]float32, 10*data.ImageSize),
		Labels: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
	}
	rest, heldOut := s.Split(3, 42)
	_, again := s.Split(3, 42)
	fmt.Println(rest.Len(), heldOut.Len())
	fmt.Println("held out:", heldOut.Labels, "again:", again.Labels)
	// Output:
	// 7 3
	// held out: [0 3 7] again: [0 3 7]
}
