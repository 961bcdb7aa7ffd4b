package telephony

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SampleRate is the only rate the hotline speaks: G.711 narrowband, 8 kHz.
const SampleRate = 8000

// ErrWAVFormat is returned for WAV files that are not 8 kHz mono 16-bit PCM.
var ErrWAVFormat = errors.New("telephony: WAV must be 8 kHz mono 16-bit PCM")

// ReadWAV parses a RIFF/WAVE file holding 8 kHz mono 16-bit little-endian
// PCM and returns its samples. Other formats fail with ErrWAVFormat wrapped
// with what was found.
func ReadWAV(r io.Reader) ([]int16, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, fmt.Errorf("telephony: not a RIFF/WAVE file")
	}
	p := data[12:]
	var haveFmt bool
	for len(p) >= 8 {
		id := string(p[0:4])
		size := int(binary.LittleEndian.Uint32(p[4:8]))
		p = p[8:]
		if size > len(p) {
			if id == "data" { // tolerate a streamed file whose size was never patched
				size = len(p) &^ 1
			} else {
				return nil, fmt.Errorf("telephony: WAV chunk %q truncated", id)
			}
		}
		body := p[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, fmt.Errorf("telephony: WAV fmt chunk too short")
			}
			format := binary.LittleEndian.Uint16(body[0:2])
			channels := binary.LittleEndian.Uint16(body[2:4])
			rate := binary.LittleEndian.Uint32(body[4:8])
			bitsPer := binary.LittleEndian.Uint16(body[14:16])
			if format != 1 || channels != 1 || rate != SampleRate || bitsPer != 16 {
				return nil, fmt.Errorf("%w (got format %d, %d channels, %d Hz, %d bits)", ErrWAVFormat, format, channels, rate, bitsPer)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("telephony: WAV data before fmt chunk")
			}
			out := make([]int16, size/2)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return out, nil
		}
		p = p[size:]
		if size%2 == 1 && len(p) > 0 { // RIFF chunks are word aligned
			p = p[1:]
		}
	}
	return nil, fmt.Errorf("telephony: WAV has no data chunk")
}

// EncodeWAV returns pcm as an 8 kHz mono 16-bit PCM WAV file.
func EncodeWAV(pcm []int16) []byte {
	var b bytes.Buffer
	n := uint32(2 * len(pcm))
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, 36+n)
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(SampleRate), uint32(2 * SampleRate), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, n)
	binary.Write(&b, binary.LittleEndian, pcm)
	return b.Bytes()
}
