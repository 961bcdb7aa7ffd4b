package telephony

import "time"

// Outcome is how a call ended.
type Outcome string

// Call outcomes.
const (
	OutcomeAnswered  Outcome = "answered"  // bridged to an agent
	OutcomeAbandoned Outcome = "abandoned" // caller hung up in the IVR or queue
	OutcomeVoicemail Outcome = "voicemail" // caller left a message
	OutcomeNoAgent   Outcome = "no agent"  // nobody answered and no message was left
	// OutcomeInterrupted: the server stopped (a crash, a power cut) while
	// the call was up; its end and what happened last are unknown.
	OutcomeInterrupted Outcome = "interrupted"

	// OutcomeCallbackRequested: the caller asked to be called back and
	// hung up; a CallbackTask was stored.
	OutcomeCallbackRequested Outcome = "callback requested"
	// Outcomes of a callback's customer leg (the agent had answered).
	OutcomeBusy     Outcome = "busy"      // the customer's line was busy (486, 600)
	OutcomeNoAnswer Outcome = "no answer" // rang out, or unavailable (408, 480, 487)
	OutcomeFailed   Outcome = "failed"    // the trunk refused the call or was unreachable
)

// Call directions.
const (
	DirectionInbound  = "inbound"  // a customer called a hotline
	DirectionCallback = "callback" // Frontdesk called the customer back
)

// CallRecord is what every call leaves in the store, for `frontdesk calls
// list` and the ticket desk.
type CallRecord struct {
	Seq        uint64        `json:"seq"`              // store order, 1-based
	ID         string        `json:"id"`               // Frontdesk call id
	Direction  string        `json:"direction"`        // DirectionInbound or DirectionCallback
	Ticket     uint64        `json:"ticket,omitempty"` // for callbacks: CallbackRequest.Ticket
	CallID     string        `json:"callId"`           // SIP Call-ID of the customer's leg
	Caller     string        `json:"caller"`           // the customer's number (From user part, or the number called back)
	Level      Level         `json:"level"`            // contact level at call time
	Dialled    string        `json:"dialled"`
	IVRPath    string        `json:"ivrPath"` // keys pressed, submenus joined by ">"
	Queue      string        `json:"queue,omitempty"`
	Agent      string        `json:"agent,omitempty"`
	Start      time.Time     `json:"start"`
	Answered   time.Time     `json:"answered,omitzero"` // bridged to the agent
	End        time.Time     `json:"end"`
	Wait       time.Duration `json:"wait"` // time in the queue
	Talk       time.Duration `json:"talk"` // time bridged
	Outcome    Outcome       `json:"outcome"`
	Recording  string        `json:"recording,omitempty"` // id for Server.Recording
	HangupBy   string        `json:"hangupBy,omitempty"`  // "caller" (the customer), "agent" or "server"
	CallerRTP  MediaStats    `json:"callerRtp"`           // the customer's leg
	AgentRTP   MediaStats    `json:"agentRtp"`
	Codec      string        `json:"codec,omitempty"`
	DTMFSource string        `json:"dtmfSource,omitempty"` // "rfc4733" or "info"
}

// MediaStats counts one leg's RTP packets.
type MediaStats struct {
	In      uint64 `json:"in"`      // valid packets received
	Out     uint64 `json:"out"`     // packets sent
	Dropped uint64 `json:"dropped"` // garbage, unknown payload types, too late
}

// QueueState is the live view of one queue for the web.
type QueueState struct {
	Name    string          `json:"name"`
	Skill   string          `json:"skill"`
	Waiting []WaitingCaller `json:"waiting"` // in service order
	Agents  []AgentState    `json:"agents"`  // agents with the skill
	// Callbacks is how many queued callbacks of this queue are due and
	// waiting for a free agent (they are served after live callers).
	Callbacks int `json:"callbacks"`
}

// WaitingCaller is one caller in a queue.
type WaitingCaller struct {
	Position int           `json:"position"` // 1-based
	Caller   string        `json:"caller"`
	Level    Level         `json:"level"`
	Wait     time.Duration `json:"wait"`
	Ringing  string        `json:"ringing,omitempty"` // agent being rung for this caller
}

// AgentState is one agent's live state.
type AgentState struct {
	Address    string    `json:"address"`
	State      string    `json:"state"` // available, ringing, on call, wrap-up, away
	Registered bool      `json:"registered"`
	IdleSince  time.Time `json:"idleSince,omitzero"`
}
