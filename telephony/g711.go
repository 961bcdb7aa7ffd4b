package telephony

import "math/bits"

// G.711 (ITU-T G.711) companding, the payload of RTP/AVP static payload types
// 0 (PCMU, µ-law) and 8 (PCMA, A-law), RFC 3551 section 4.5.14. Samples are
// 16-bit linear PCM at 8 kHz.

const (
	ulawBias = 0x84
	ulawClip = 32635
)

// ulawEncode compresses one linear sample to µ-law.
func ulawEncode(s int16) byte {
	v := int(s)
	var sign int
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	exp := bits.Len(uint(v>>7)) - 1
	if exp < 0 {
		exp = 0
	}
	mant := (v >> (exp + 3)) & 0x0F
	return ^byte(sign | exp<<4 | mant)
}

// ulawDecode expands one µ-law byte to a linear sample.
func ulawDecode(u byte) int16 {
	u = ^u
	exp := int(u>>4) & 7
	v := ((int(u&0x0F) << 3) + ulawBias) << exp
	v -= ulawBias
	if u&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

var alawSegEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}

// alawEncode compresses one linear sample to A-law (even bits inverted).
func alawEncode(s int16) byte {
	p := int(s) >> 3
	mask := 0xD5
	if p < 0 {
		mask = 0x55
		p = -p - 1
	}
	seg := 0
	for seg < 8 && p > alawSegEnd[seg] {
		seg++
	}
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	a := seg << 4
	if seg < 2 {
		a |= (p >> 1) & 0x0F
	} else {
		a |= (p >> seg) & 0x0F
	}
	return byte(a ^ mask)
}

// alawDecode expands one A-law byte to a linear sample.
func alawDecode(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// Payload types of the codecs we speak (RFC 3551 table 4).
const (
	ptPCMU uint8 = 0
	ptPCMA uint8 = 8
)

// encodeG711 appends the payload for pcm in codec pt to dst.
func encodeG711(dst []byte, pt uint8, pcm []int16) []byte {
	for _, s := range pcm {
		if pt == ptPCMA {
			dst = append(dst, alawEncode(s))
		} else {
			dst = append(dst, ulawEncode(s))
		}
	}
	return dst
}

// decodeG711 appends the samples of payload in codec pt to dst.
func decodeG711(dst []int16, pt uint8, payload []byte) []int16 {
	for _, b := range payload {
		if pt == ptPCMA {
			dst = append(dst, alawDecode(b))
		} else {
			dst = append(dst, ulawDecode(b))
		}
	}
	return dst
}
