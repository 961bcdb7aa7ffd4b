package telephony

import (
	"slices"
	"testing"
)

func testHotline(t *testing.T) *Hotline {
	sub := &Menu{Prompts: []string{"sub"}, Options: map[string]Option{
		"1": {Action: ActVoicemail, Queue: "sales"},
		"#": {Action: ActHangup},
	}, MaxRetries: 2, Fallback: Option{Action: ActHangup}}
	h := DemoHotline()
	h.Menu.Options["3"] = Option{Action: ActSubmenu, Menu: sub}
	cfg := Config{DataDir: t.TempDir(), Hotlines: []Hotline{h}}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	return &cfg.Hotlines[0]
}

func TestIVRWalk(t *testing.T) {
	h := testHotline(t)
	v := newIVR(h)
	if s := v.start(); !slices.Equal(s.prompts, []string{"greeting", "menu"}) || !s.wait {
		t.Fatalf("start %+v", s)
	}
	if s := v.key('2'); s.wait || s.exit.Action != ActQueue || s.exit.Queue != "support" {
		t.Fatalf("key 2: %+v", s)
	}
	if v.pathString() != "2" {
		t.Fatalf("path %q", v.pathString())
	}

	v = newIVR(h)
	v.start()
	if s := v.key('0'); s.exit.Queue != "support" {
		t.Fatalf("operator: %+v", s)
	}

	// Submenu, an invalid key, a repeat, then a choice.
	v = newIVR(h)
	v.start()
	if s := v.key('3'); !slices.Equal(s.prompts, []string{"sub"}) || !s.wait {
		t.Fatalf("submenu %+v", s)
	}
	if s := v.key('7'); !slices.Equal(s.prompts, []string{"invalid", "sub"}) || !s.wait {
		t.Fatalf("invalid %+v", s)
	}
	if s := v.key('1'); s.exit.Action != ActVoicemail || s.exit.Queue != "sales" {
		t.Fatalf("voicemail %+v", s)
	}
	if v.pathString() != "3>1" {
		t.Fatalf("path %q", v.pathString())
	}
}

func TestIVRRetriesThenFallback(t *testing.T) {
	h := testHotline(t)
	v := newIVR(h)
	v.start()
	// Default 3 retries: two failures re-prompt (menu without greeting), the third falls back to the operator.
	if s := v.key('5'); !slices.Equal(s.prompts, []string{"invalid", "menu"}) {
		t.Fatalf("first invalid %+v", s)
	}
	if s := v.timeout(); !slices.Equal(s.prompts, []string{"menu"}) || !s.wait {
		t.Fatalf("timeout %+v", s)
	}
	if s := v.key('*'); !slices.Equal(s.prompts, []string{"menu"}) {
		t.Fatalf("repeat %+v", s)
	}
	if s := v.key('#'); s.wait || s.exit.Action != ActQueue || s.exit.Queue != "support" {
		t.Fatalf("fallback %+v", s)
	}
	if v.pathString() != "*" {
		t.Fatalf("path %q", v.pathString())
	}
}

func TestConfigRejects(t *testing.T) {
	h := DemoHotline()
	h.Menu.Options["4"] = Option{Action: ActQueue, Queue: "nope"}
	cfg := Config{DataDir: t.TempDir(), Hotlines: []Hotline{h}}
	if err := cfg.setDefaults(); err == nil {
		t.Fatal("unknown queue accepted")
	}
	h = DemoHotline()
	h.Menu.Options["x"] = Option{Action: ActHangup}
	cfg = Config{DataDir: t.TempDir(), Hotlines: []Hotline{h}}
	if err := cfg.setDefaults(); err == nil {
		t.Fatal("bad key accepted")
	}
}
