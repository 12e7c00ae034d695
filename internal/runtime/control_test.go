package runtime

import (
	"testing"
	"time"
)

// A pause holds until its lease ends or its resume; a resume of another pause, or a pause
// already over, changes nothing; a lease is never taken for longer than maxLease.
func TestControllerPause(t *testing.T) {
	c := &controller{changed: make(chan struct{})}
	if _, ok := c.paused(); ok {
		t.Fatal("paused before any pause")
	}
	c.apply(Control{Op: ControlPause, ID: "old", Until: time.Now().Add(-time.Second).UnixMilli()})
	if _, ok := c.paused(); ok {
		t.Error("paused by a pause whose lease had ended")
	}
	ch := c.changed
	c.apply(Control{Op: ControlPause, ID: "a", Until: time.Now().Add(time.Hour).UnixMilli()})
	if id, ok := c.paused(); !ok || id != "a" {
		t.Errorf("paused() = %q, %v; want a", id, ok)
	}
	select {
	case <-ch:
	default:
		t.Error("a pause did not wake the waiting workers")
	}
	if c.until.After(time.Now().Add(maxLease)) {
		t.Errorf("a lease of an hour was taken for %s", time.Until(c.until))
	}
	c.apply(Control{Op: ControlResume, ID: "b"})
	if _, ok := c.paused(); !ok {
		t.Error("the resume of another savepoint ended the pause")
	}
	c.apply(Control{Op: ControlResume, ID: "a"})
	if _, ok := c.paused(); ok {
		t.Error("still paused after the resume")
	}
	var none *controller
	if _, ok := none.paused(); ok {
		t.Error("a nil controller pauses")
	}
}
