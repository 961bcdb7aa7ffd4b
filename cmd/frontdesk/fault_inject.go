//go:build faultinject

package main

import (
	"frontdesk/durable"
	"frontdesk/store"
)

// One counter for every durable write of the process, the store's too.
func init() { store.FaultHook = durable.Fault }
