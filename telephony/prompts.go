package telephony

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
)

//go:embed prompts/*.wav
var embeddedPrompts embed.FS

// DefaultPrompts is the prompt set shipped with Frontdesk (spoken with
// espeak-ng, 8 kHz mono 16-bit): greeting, menu, invalid, queue, n1-n9,
// many, voicemail, goodbye, callback_offer ("to be called back ... press
// 1, to leave a message, press 2") and callback_ok ("we will call you
// back ... goodbye"). The last two were made with
//
//	espeak-ng -v en-us -s 150 -w x.wav "TEXT" && sox x.wav -r 8000 -c 1 -b 16 NAME.wav
func DefaultPrompts() fs.FS {
	sub, err := fs.Sub(embeddedPrompts, "prompts")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// prompts loads prompt audio: an admin's DATA/prompts/<number>/<name>.wav
// wins over the configured set. Decoded prompts are cached; override files
// are re-read when the server starts.
type prompts struct {
	base     fs.FS
	override string // DATA/prompts

	mu    sync.Mutex
	cache map[string][]int16 // guarded by mu; key number+"/"+name
}

func (p *prompts) get(number, name string) ([]int16, error) {
	key := number + "/" + name
	p.mu.Lock()
	defer p.mu.Unlock()
	if pcm, ok := p.cache[key]; ok {
		return pcm, nil
	}
	if !fs.ValidPath(name) || filepath.Base(name) != name {
		return nil, fmt.Errorf("telephony: bad prompt name %q", name)
	}
	var pcm []int16
	f, err := os.Open(filepath.Join(p.override, filepath.Base(number), name+".wav"))
	if err == nil {
		pcm, err = ReadWAV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("prompt override %s/%s: %w", number, name, err)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		f, err := p.base.Open(name + ".wav")
		if err != nil {
			return nil, fmt.Errorf("telephony: prompt %s: %w", name, err)
		}
		pcm, err = ReadWAV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("prompt %s: %w", name, err)
		}
	} else {
		return nil, err
	}
	if p.cache == nil {
		p.cache = map[string][]int16{}
	}
	p.cache[key] = pcm
	return pcm, nil
}

// tone returns d of a sine at hz, amplitude amp, for beeps and hold audio.
func tone(hz float64, d int, amp float64) []int16 {
	out := make([]int16, d*SampleRate/1000)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/SampleRate))
	}
	return out
}

// holdAudio is a gentle two-note chime followed by silence, looped while a
// caller waits.
var holdAudio = func() []int16 {
	var a []int16
	a = append(a, tone(523.25, 300, 2500)...)
	a = append(a, tone(659.25, 300, 2500)...)
	return append(a, make([]int16, 2*SampleRate)...)
}()

// beep precedes a voicemail recording.
var beep = tone(1000, 400, 8000)
