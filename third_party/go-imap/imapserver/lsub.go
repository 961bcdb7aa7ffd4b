package imapserver

// LSub reports whether the writer answers LSUB (RFC 3501 §6.3.9) rather
// than LIST: LSUB lists the unsubscribed parent of a subscribed name with
// \Noselect, where LIST (SUBSCRIBED RECURSIVEMATCH) gives CHILDINFO.
func (w *ListWriter) LSub() bool {
	return w.lsub
}
