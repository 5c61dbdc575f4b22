package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/convngc/convngc/ngc"
)

// ScalingRow is one point of a scaling sweep: the paper network grown to
// an image size (one more layer of 25 maps per doubling, so the top stays
// 2×2), at a mini-batch size, inference and training measured.
type ScalingRow struct {
	ImageSize int   `json:"image_size"`
	Channels  []int `json:"channels"`
	Batch     int   `json:"batch"`
	// FLOPsPerImage is the convolution work of one image's inference.
	FLOPsPerImage int64 `json:"flop_per_image"`
	// MicrosPerImage and NanosPerPixel are the inference cost per image and
	// per image pixel (a pixel of all three colour channels); the training
	// figures likewise for a training batch.
	MicrosPerImage      float64 `json:"inference_us_per_image"`
	NanosPerPixel       float64 `json:"inference_ns_per_pixel"`
	GFLOPs              float64 `json:"inference_gflop_per_second"`
	TrainMicrosPerImage float64 `json:"train_us_per_image"`
	TrainGFLOPs         float64 `json:"train_gflop_per_second"`
}

// ScalingChannels returns the channels of the paper network grown to an
// image of size pixels a side: 10, 15, 20, 25, then one layer of 25 maps
// for every doubling beyond 32, then the 3 colour channels.
func ScalingChannels(size int) ([]int, error) {
	if size < 32 || size&(size-1) != 0 {
		return nil, fmt.Errorf("bench: image size %d: want 32, 64, 128, …", size)
	}
	ch := []int{10, 15, 20, 25}
	for s := 64; s <= size; s *= 2 {
		ch = append(ch, 25)
	}
	return append(ch, 3), nil
}

// Scaling measures the batched reference over every image size and batch
// size, T steps, the best of repeats runs of each workload.
func Scaling(ctx context.Context, sizes, batches []int, steps, repeats int) ([]ScalingRow, error) {
	var rows []ScalingRow
	for _, size := range sizes {
		ch, err := ScalingChannels(size)
		if err != nil {
			return nil, err
		}
		for _, b := range batches {
			cfg := ngc.Config{Channels: ch, ImageSize: size}
			res, err := Batched(ctx, Options{Config: cfg, Batch: b, Steps: steps, Repeats: repeats})
			if err != nil {
				return nil, err
			}
			m, err := ngc.New(ngc.Config{Channels: ch, ImageSize: size, Steps: steps})
			if err != nil {
				return nil, err
			}
			inf, tr := res[0], res[1]
			row := ScalingRow{ImageSize: size, Channels: ch, Batch: b, FLOPsPerImage: m.FLOPsPerImage(false),
				MicrosPerImage: 1e6 / inf.ImagesPerSecond, GFLOPs: inf.GFLOPs,
				TrainMicrosPerImage: 1e6 / tr.ImagesPerSecond, TrainGFLOPs: tr.GFLOPs}
			row.NanosPerPixel = 1e3 * row.MicrosPerImage / float64(size*size)
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// ScalingTable renders rows as a Markdown table.
func ScalingTable(rows []ScalingRow) string {
	var b strings.Builder
	b.WriteString("| image | layers (top→image) | batch | MFLOP/image | inference µs/image | ns/pixel | GFLOP/s | training µs/image | GFLOP/s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d×%d | %v | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", r.ImageSize, r.ImageSize, r.Channels, r.Batch,
			float64(r.FLOPsPerImage)/1e6, r.MicrosPerImage, r.NanosPerPixel, r.GFLOPs, r.TrainMicrosPerImage, r.TrainGFLOPs)
	}
	return b.String()
}
