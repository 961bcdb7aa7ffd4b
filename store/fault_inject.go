//go:build faultinject

package store

// FaultHook, set by the program built with -tags faultinject, is called
// before each durable write of the store (store.file: a message file's
// fsync, store.dir: a directory's, store.commit: an account database
// commit; store.remove: before removing expunged messages' files) and may
// kill the process there. store imports nothing of ours,
// so the counter lives with the caller.
var FaultHook func(point string)

func fault(point string) {
	if FaultHook != nil {
		FaultHook(point)
	}
}
