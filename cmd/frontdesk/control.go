package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"frontdesk/store"
)

// The control socket carries one admin command per connection: the client
// sends a controlRequest, the server runs it against its open store and
// answers a controlResponse. The socket is 0600 inside the 0700 data
// directory, so only the data directory's owner can use it.
type controlRequest struct {
	Args  []string `json:"args"`
	Stdin []byte   `json:"stdin,omitempty"`
}

type controlResponse struct {
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
	Code   int    `json:"code"`
}

const socketName = "frontdesk.sock"

// maxControlStdin bounds what a command may send as standard input.
const maxControlStdin = 1 << 20

// controlTimeout bounds one admin command over the control socket. A
// backup has no bound: copying a large data directory to another disk
// takes as long as it takes, and it ends when its client goes away.
var controlTimeout = 5 * time.Minute

// controlStartWait is how long an admin command waits for the control
// socket of a server that holds the data directory but is still starting.
const controlStartWait = 30 * time.Second

func unbounded(args []string) bool { return joinWords(args, 2) == "backup into" }

// runAdmin runs an admin command in the running server, or here.
func runAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	dataDir, args, err := takeDataFlag(args)
	if err != nil {
		return exitCode(err, stderr)
	}
	sock := filepath.Join(dataDir, socketName)
	remote := func(conn net.Conn) int {
		defer conn.Close()
		// Ctrl-C ends the command in the server too: it sees the
		// connection close.
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		return remoteAdmin(ctx, conn, args, stdin, stdout, stderr)
	}
	if conn, err := net.DialTimeout("unix", sock, 2*time.Second); err == nil {
		return remote(conn)
	}
	st, err := store.Open(dataDir)
	if errors.Is(err, store.ErrInUse) {
		// A server holds the directory and is still starting: its
		// socket comes up once everything is open.
		for deadline := time.Now().Add(controlStartWait); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
			if conn, derr := net.DialTimeout("unix", sock, 2*time.Second); derr == nil {
				return remote(conn)
			}
		}
	}
	if err != nil {
		return exitCode(err, stderr)
	}
	defer st.Close()
	svc := &services{dataDir: dataDir}
	defer svc.close()
	return execAdmin(ctx, st, svc, args, stdin, stdout, stderr)
}

func remoteAdmin(ctx context.Context, conn net.Conn, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	req := controlRequest{Args: args}
	// Only commands that read standard input get it, so an admin's
	// terminal is never swallowed.
	if wantsStdin(args) {
		b, err := io.ReadAll(io.LimitReader(stdin, maxControlStdin))
		if err != nil {
			return exitCode(fmt.Errorf("read standard input: %w", err), stderr)
		}
		req.Stdin = b
	}
	if !unbounded(args) {
		conn.SetDeadline(time.Now().Add(controlTimeout))
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return exitCode(fmt.Errorf("control socket: %w", err), stderr)
	}
	var resp controlResponse
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return exitCode(fmt.Errorf("%s: interrupted", strings.TrimSuffix(joinWords(args, 2), " into")), stderr)
		}
		return exitCode(fmt.Errorf("control socket: no answer from the server: %w", err), stderr)
	}
	stdout.Write(resp.Stdout)
	stderr.Write(resp.Stderr)
	return resp.Code
}

func wantsStdin(args []string) bool {
	if w := joinWords(args, 2); w == "spam classify" || w == "tickets reply" {
		return true
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") && strings.HasSuffix(a, "password-stdin") {
			return true
		}
	}
	return false
}

// execAdmin runs one admin command against an open store.
func execAdmin(ctx context.Context, st *store.Store, svc *services, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f, ok := lookupAdmin(args)
	if !ok {
		fmt.Fprintf(stderr, "frontdesk: unknown command %q\n", joinWords(args, 2))
		return 2
	}
	return exitCode(f(ctx, &adminEnv{store: st, svc: svc, stdin: stdin, stdout: stdout, stderr: stderr}, args[2:]), stderr)
}

// takeDataFlag removes --data DIR (or --data=DIR) from args.
func takeDataFlag(args []string) (string, []string, error) {
	dir := "data"
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--data" || a == "-data":
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("%w: --data needs a directory", errUsage)
			}
			dir = args[i+1]
			i++
		case strings.HasPrefix(a, "--data=") || strings.HasPrefix(a, "-data="):
			dir = a[strings.IndexByte(a, '=')+1:]
		default:
			out = append(out, a)
		}
	}
	return dir, out, nil
}

// controlServer answers admin commands for a running server.
type controlServer struct {
	store *store.Store
	svc   *services
	log   *slog.Logger
	ln    net.Listener
}

func listenControl(dataDir string, st *store.Store, svc *services, log *slog.Logger) (*controlServer, error) {
	path := filepath.Join(dataDir, socketName)
	// A socket left by a killed server would block the new one; the store
	// lock already proves no other server runs on this directory.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	c := &controlServer{store: st, svc: svc, log: log, ln: ln}
	go c.serve()
	return c, nil
}

func (c *controlServer) serve() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		go c.handle(conn)
	}
}

func (c *controlServer) handle(conn net.Conn) {
	defer conn.Close()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("control command panicked", "panic", r)
		}
	}()
	conn.SetDeadline(time.Now().Add(time.Minute))
	var req controlRequest
	if err := json.NewDecoder(io.LimitReader(conn, 2*maxControlStdin)).Decode(&req); err != nil {
		c.log.Warn("control socket: bad request", "err", err)
		return
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	conn.SetDeadline(time.Now().Add(controlTimeout))
	if unbounded(req.Args) {
		cancel()
		ctx, cancel = context.WithCancel(context.Background())
		conn.SetDeadline(time.Time{})
		// The client sends nothing more: a read ends when it hangs up.
		go func() {
			conn.Read(make([]byte, 1))
			cancel()
		}()
	}
	defer cancel()
	code := execAdmin(ctx, c.store, c.svc, req.Args, bytes.NewReader(req.Stdin), &stdout, &stderr)
	c.log.Info("admin command", "cmd", joinWords(req.Args, 2), "code", code)
	conn.SetWriteDeadline(time.Now().Add(time.Minute))
	json.NewEncoder(conn).Encode(controlResponse{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Code: code})
}

func (c *controlServer) Close() error { return c.ln.Close() }
