//go:build !faultinject

package store

// fault marks a durable write about to happen; without the faultinject
// build tag it is nothing (see fault_inject.go).
func fault(point string) {}
