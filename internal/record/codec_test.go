package record

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

func codecInputs() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog "), 5000)
	return map[string][]byte{
		"empty":  {},
		"one":    {42},
		"text":   text,
		"random": random,
		"zeros":  make([]byte, 1<<20),
	}
}

func TestCompressRoundTrip(t *testing.T) {
	for _, codec := range testCodecs {
		for name, in := range codecInputs() {
			t.Run(testCodecName(codec)+"/"+name, func(t *testing.T) {
				c, z := compressTest(t, codec, in)
				out, err := Decompress(c, z, len(in))
				if err != nil {
					t.Fatalf("Decompress: %v", err)
				}
				if !bytes.Equal(out, in) {
					t.Fatalf("round trip changed %d bytes into %d", len(in), len(out))
				}
				if out, err := Decompress(c, z, math.MaxInt); err != nil || !bytes.Equal(out, in) {
					t.Fatalf("Decompress with no practical limit: %v", err)
				}
				if len(in) > 0 {
					if _, err := Decompress(c, z, len(in)-1); !errors.Is(err, ErrTooLarge) {
						t.Fatalf("Decompress with limit len-1 = %v, want ErrTooLarge", err)
					}
				}
			})
		}
	}
}

// TestDecompressForeign decodes streams other encoders produce: zstd without a content
// size (streaming encoders, e.g. the Java client), concatenated and skippable zstd frames,
// multi-member gzip, LZ4 frames with content checksum and 4 MiB blocks.
func TestDecompressForeign(t *testing.T) {
	in := codecInputs()["text"]
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs, zstd.WithEncoderConcurrency(1))
	zw.Write(in)
	zw.Close()
	if h := new(zstd.Header); h.Decode(zs.Bytes()) != nil || h.HasFCS {
		t.Fatalf("streamed zstd frame has a content size")
	}
	enc, _ := zstd.NewWriter(nil)
	skippable := []byte{0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3}
	zstdMulti := append(append(enc.EncodeAll(in[:1000], nil), skippable...), enc.EncodeAll(in[1000:], nil)...)

	gz := func(p []byte) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(p)
		w.Close()
		return b.Bytes()
	}
	gzMulti := append(gz(in[:777]), gz(in[777:])...)

	var l bytes.Buffer
	lw := lz4.NewWriter(&l)
	lw.Apply(lz4.ChecksumOption(true), lz4.BlockSizeOption(lz4.Block4Mb), lz4.SizeOption(uint64(len(in))))
	lw.Write(in)
	lw.Close()

	cases := []struct {
		name  string
		codec int
		z     []byte
	}{
		{"zstd stream", CodecZstd, zs.Bytes()},
		{"zstd multi frame", CodecZstd, zstdMulti},
		{"gzip multi member", CodecGzip, gzMulti},
		{"lz4 checksum 4MiB", CodecLZ4, l.Bytes()},
	}
	for _, c := range cases {
		out, err := Decompress(c.codec, c.z, len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s: %d bytes, %v", c.name, len(out), err)
		}
		if _, err := Decompress(c.codec, c.z, len(in)-1); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: limit len-1: %v", c.name, err)
		}
	}
}

func TestDecompressBomb(t *testing.T) {
	// 64 MiB of zeros streamed through zstd has no content size: the bound comes from the
	// block headers and decoding stops at the limit.
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs, zstd.WithEncoderConcurrency(1))
	zw.Write(make([]byte, 64<<20))
	zw.Close()
	for _, c := range []struct {
		codec int
		z     []byte
	}{{CodecZstd, zs.Bytes()}} {
		if _, err := Decompress(c.codec, c.z, 1<<20); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s bomb: %v", codecName(c.codec), err)
		}
	}
}

func TestDecompressErrors(t *testing.T) {
	for _, c := range []struct {
		codec int
		src   []byte
	}{
		{-1, nil}, {5, nil}, {CodecGzip, nil}, {CodecLZ4, nil}, {CodecSnappy, nil},
		{CodecZstd, []byte{0x28, 0xb5, 0x2f}},
		{CodecZstd, []byte{0x28, 0xb5, 0x2f, 0xfd, 0x08}}, // reserved frame header bit
		{CodecSnappy, []byte{3, 1, 2}},
	} {
		if _, err := Decompress(c.codec, c.src, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decompress(%d, %x) = %v", c.codec, c.src, err)
		}
	}
	if _, err := Compress(9, nil); err == nil {
		t.Fatal("Compress(9) succeeded")
	}
}
