package telephony

import "strings"

// The IVR is a pure state machine over a Menu tree: the call goroutine plays
// what a step says and feeds back keys and timeouts. No I/O here, so menu
// walking is tested by feeding keys.

// ivrStep is what the call does next.
type ivrStep struct {
	prompts []string // to play, interruptible by a key
	wait    bool     // then wait for a key, up to digitTimeout
	exit    Option   // when !wait: where the call goes (queue, voicemail, hangup)
}

type ivr struct {
	h       *Hotline
	menu    *Menu
	retries int
	path    []string
}

func newIVR(h *Hotline) *ivr { return &ivr{h: h, menu: h.Menu} }

// pathString is the keys that chose options, submenus joined by ">".
func (v *ivr) pathString() string { return strings.Join(v.path, ">") }

func (v *ivr) start() ivrStep {
	return ivrStep{prompts: v.menu.Prompts, wait: true}
}

// key handles one key press.
func (v *ivr) key(k rune) ivrStep {
	opt, ok := v.menu.Options[string(k)]
	if !ok {
		return v.retry([]string{"invalid"})
	}
	v.path = append(v.path, string(k))
	return v.take(opt)
}

// timeout handles the digit timer running out.
func (v *ivr) timeout() ivrStep { return v.retry(nil) }

func (v *ivr) retry(first []string) ivrStep {
	v.retries++
	if v.retries >= v.menu.MaxRetries {
		return v.take(v.menu.Fallback)
	}
	return ivrStep{prompts: append(first, v.menu.RepeatPrompts...), wait: true}
}

func (v *ivr) take(o Option) ivrStep {
	switch o.Action {
	case ActSubmenu:
		v.menu, v.retries = o.Menu, 0
		return ivrStep{prompts: o.Menu.Prompts, wait: true}
	case ActRepeat:
		return ivrStep{prompts: v.menu.RepeatPrompts, wait: true}
	case ActOperator:
		return ivrStep{exit: Option{Action: ActQueue, Queue: v.h.OperatorQueue}}
	}
	return ivrStep{exit: o}
}
