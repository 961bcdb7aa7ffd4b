package telephony

import "testing"

func TestULaw(t *testing.T) {
	enc := []struct {
		in   int16
		want byte
	}{
		{0, 0xFF}, {-1, 0x7F}, {32767, 0x80}, {-32768, 0x00}, {100, 0xF2}, {-100, 0x72}, {1000, 0xCE},
	}
	for _, c := range enc {
		if got := ulawEncode(c.in); got != c.want {
			t.Errorf("ulawEncode(%d) = %#x, want %#x", c.in, got, c.want)
		}
	}
	dec := []struct {
		in   byte
		want int16
	}{
		{0xFF, 0}, {0x7F, 0}, {0x80, 32124}, {0x00, -32124}, {0xF2, 104}, {0xCE, 988},
	}
	for _, c := range dec {
		if got := ulawDecode(c.in); got != c.want {
			t.Errorf("ulawDecode(%#x) = %d, want %d", c.in, got, c.want)
		}
	}
	// Every code word survives decode then encode (0x7F, negative zero, maps to 0xFF).
	for i := 0; i < 256; i++ {
		b := byte(i)
		if b == 0x7F {
			continue
		}
		if got := ulawEncode(ulawDecode(b)); got != b {
			t.Errorf("ulaw round trip %#x -> %#x", b, got)
		}
	}
}

func TestALaw(t *testing.T) {
	enc := []struct {
		in   int16
		want byte
	}{
		{0, 0xD5}, {-1, 0x55}, {32767, 0xAA}, {-32768, 0x2A}, {1000, 0xFA},
	}
	for _, c := range enc {
		if got := alawEncode(c.in); got != c.want {
			t.Errorf("alawEncode(%d) = %#x, want %#x", c.in, got, c.want)
		}
	}
	dec := []struct {
		in   byte
		want int16
	}{
		{0xD5, 8}, {0x55, -8}, {0xAA, 32256}, {0x2A, -32256}, {0xFA, 1008},
	}
	for _, c := range dec {
		if got := alawDecode(c.in); got != c.want {
			t.Errorf("alawDecode(%#x) = %d, want %d", c.in, got, c.want)
		}
	}
	for i := 0; i < 256; i++ {
		b := byte(i)
		if got := alawEncode(alawDecode(b)); got != b {
			t.Errorf("alaw round trip %#x -> %#x", b, got)
		}
	}
}
