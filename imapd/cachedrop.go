package imapd

import (
	"context"
	"slices"

	"frontdesk/store"
)

// The caches are keyed by message file. An expunged message's entries
// would stay until evicted, so a mailbox that takes mail and expunges it
// at the same pace (a steady state) would grow the caches to their whole
// budget with text nobody can ask for again, pushing out live messages'.
// EXPUNGE drops them.

// deletedFiles returns the files of the messages among uids that the
// session knows as \Deleted: those an EXPUNGE is about to remove.
func (s *session) deletedFiles(ctx context.Context, v *selected, uids []uint32) map[uint32]string {
	var doomed []uint32
	for _, uid := range uids {
		if i, ok := v.find(uid); ok && slices.Contains(v.msgs[i].flags, store.FlagDeleted) {
			doomed = append(doomed, uid)
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	msgs, err := s.srv.st.MessagesByUID(ctx, s.acct.ID, v.id, doomed)
	if err != nil {
		return nil // the entries then age out as before
	}
	files := make(map[uint32]string, len(msgs))
	for _, m := range msgs {
		files[m.UID] = m.File
	}
	return files
}

// forget drops the cached envelope, header and text of the removed
// messages among files.
func (s *Server) forget(acct uint64, files map[uint32]string, removed []uint32) {
	for _, uid := range removed {
		f, ok := files[uid]
		if !ok {
			continue
		}
		k := cacheKey{acct, f}
		s.cache.remove(k)
		s.headers.remove(k)
		s.texts.remove(k)
	}
}

func (c *lru[V]) remove(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.used -= e.Value.(*lruEntry[V]).cost
		c.ll.Remove(e)
		delete(c.m, k)
	}
}
