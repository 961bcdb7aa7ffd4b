//go:build !faultinject

package durable

// Fault marks a durable write about to happen (a file or directory
// fsync, a database commit). Built with -tags faultinject it can kill the
// process there, to test crash recovery (see fault_inject.go); otherwise
// it is nothing and compiles away.
func Fault(point string) {}
