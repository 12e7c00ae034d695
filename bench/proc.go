package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a running child: one pipeline's processing process.
type proc struct {
	cmd     *exec.Cmd
	execAt  time.Time
	started chan time.Time // the child's first record, once
	exited  chan struct{}  // closed when the child is gone; waitErr is set then
	waitErr error
	log     *os.File
}

// startProc starts argv with stderr (and stdout lines other than the started line) going
// to logPath.
func startProc(argv []string, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: child log: %w", err)
	}
	p := &proc{started: make(chan time.Time, 1), exited: make(chan struct{}), log: logf}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout = &lineWriter{line: p.onLine}
	p.cmd.Stderr = logf
	fmt.Fprintf(logf, "$ %s\n", strings.Join(argv, " "))
	p.execAt = time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: start %s: %w", argv[0], err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) onLine(line string) {
	if rest, ok := strings.CutPrefix(line, startedLine+" "); ok {
		if ns, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64); err == nil {
			select {
			case p.started <- time.Unix(0, ns):
			default:
			}
			return
		}
	}
	fmt.Fprintln(p.log, line)
}

// usage is what the kernel accounted to a stopped child.
type usage struct {
	maxRSSKiB int64
	cpu       time.Duration
}

// stop ends the child: SIGTERM, then SIGKILL after grace. It returns the child's usage.
//
// The peak resident set is the child's VmHWM, read just before the signal, not the
// ru_maxrss of its rusage: Go starts children with vfork semantics (the child shares the
// parent's memory until it execs) and Linux carries the RSS high-water mark across execve,
// so ru_maxrss is at least the harness's own RSS at the fork, whatever the child used.
// VmHWM belongs to the address space the exec created.
func (p *proc) stop(grace time.Duration) usage {
	hwm := vmHWM(p.cmd.Process.Pid)
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.log.Close()
	u := usage{maxRSSKiB: hwm}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if u.maxRSSKiB == 0 {
			u.maxRSSKiB = ru.Maxrss // KiB on Linux; an upper bound (see above)
		}
		u.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return u
}

// vmHWM is the peak resident set of a live process in KiB (0 if unknown).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kib
			}
		}
	}
	return 0
}

// exitError describes an early exit, with the tail of the child's log.
func (p *proc) exitError() error {
	tail := ""
	if b, err := os.ReadFile(p.log.Name()); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		tail = strings.Join(lines[max(0, len(lines)-5):], " ⏎ ")
	}
	return fmt.Errorf("child exited early (%v); log %s: %s", p.waitErr, p.log.Name(), tail)
}

// lineWriter calls line for every complete line written to it.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	line func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			return len(b), nil
		}
		w.line(string(w.buf.Next(i + 1)[:i]))
	}
}

var _ io.Writer = (*lineWriter)(nil)
