package telephony

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func TestWAVRoundTrip(t *testing.T) {
	pcm := []int16{0, 1, -1, 32767, -32768, 1234}
	b := EncodeWAV(pcm)
	if len(b) != 44+2*len(pcm) {
		t.Fatalf("size %d", len(b))
	}
	got, err := ReadWAV(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, pcm) {
		t.Fatalf("got %v", got)
	}
}

func TestWAVRejects(t *testing.T) {
	b := EncodeWAV([]int16{1, 2})
	stereo := slices.Clone(b)
	binary.LittleEndian.PutUint16(stereo[22:], 2)
	rate := slices.Clone(b)
	binary.LittleEndian.PutUint32(rate[24:], 16000)
	bits8 := slices.Clone(b)
	binary.LittleEndian.PutUint16(bits8[34:], 8)
	for name, in := range map[string][]byte{"stereo": stereo, "16k": rate, "8bit": bits8} {
		if _, err := ReadWAV(bytes.NewReader(in)); !errors.Is(err, ErrWAVFormat) {
			t.Errorf("%s: err %v, want ErrWAVFormat", name, err)
		}
	}
	for name, in := range map[string][]byte{"empty": nil, "junk": []byte("RIFFxxxxWAVEjunk"), "short": b[:20]} {
		if _, err := ReadWAV(bytes.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
