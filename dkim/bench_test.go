package dkim

import (
	"context"
	"strings"
	"testing"
)

// msg8KB is testMsg with its body grown to about 8 KB.
func msg8KB() []byte {
	var b strings.Builder
	b.WriteString(testMsg)
	for b.Len() < 8<<10 {
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n")
	}
	return []byte(b.String())
}

// BenchmarkSign8KB signs an 8 KB message with both keys (RSA-2048 and
// Ed25519), as every submitted message is.
func BenchmarkSign8KB(b *testing.B) {
	msg, keys := msg8KB(), testKeys()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(msg, keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkVerify8KB verifies both signatures of an 8 KB message, keys
// looked up through the resolver from an in-process DNS server (no
// cache: two UDP round trips per message).
func BenchmarkVerify8KB(b *testing.B) {
	keys := testKeys()
	_, v := dnsWith(b, keys...)
	signed, err := Sign(msg8KB(), keys)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	for b.Loop() {
		rs, err := v.Verify(ctx, signed)
		if err != nil || len(rs) != 2 || rs[0].Status != StatusPass || rs[1].Status != StatusPass {
			b.Fatalf("%v %v", rs, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
