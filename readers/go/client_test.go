package reader

import (
	"bufio"
	"net"
	"strconv"
	"testing"
	"time"
)

// A Redis stand-in on 127.0.0.1 that answers each GET with what reply(n) says for the n-th command (from 0);
// "" answers nothing at all (a stopped server: SIGSTOP, a dead host behind a live socket).
func fakeRedis(t *testing.T, reply func(n int) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		n := 0
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(conn net.Conn) {
				defer conn.Close()
				rd := bufio.NewReader(conn)
				for {
					// one GET: *2, $3, GET, $len, key: five lines
					for i := 0; i < 5; i++ {
						if _, err := rd.ReadString('\n'); err != nil {
							return
						}
					}
					out := reply(n)
					n++
					if out == "" {
						time.Sleep(10 * time.Second)
						return
					}
					if _, err := conn.Write([]byte(out)); err != nil {
						return
					}
				}
			}(conn)
		}
	}()
	return ln.Addr().String()
}

// within fails the test when f has not returned after d (a read that never ends).
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still blocked after %v", d)
	}
}

const aRecord = `{"v":1,"access_token":"at-1","token_type":"Bearer","expires_at":null,"scope":null,"generation":1,"refreshed_at":1,"extras":{}}`

func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// A server that stops answering: the read fails after the client's Timeout instead of blocking its goroutine
// (before: no deadline, blocked for good).
func TestAStoppedServerFailsTheReadAfterTheTimeout(t *testing.T) {
	addr := fakeRedis(t, func(int) string { return "" })
	c, err := Dial(addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Timeout = 200 * time.Millisecond
	within(t, 3*time.Second, func() {
		if _, err := c.Read("k", 0); err == nil {
			t.Error("a read from a server that never answers succeeded")
		}
	})
}

// A reply that comes after the deadline is not taken as the answer to the next GET: the timed-out connection is
// dropped and the next read dials again (before: the late reply to key a was returned for key b).
func TestALateReplyIsNeverTheNextKeysAnswer(t *testing.T) {
	other := `{"v":2,"status":"reauth_required","generation":1,"since":1}`
	addr := fakeRedis(t, func(n int) string {
		if n == 0 {
			time.Sleep(400 * time.Millisecond) // late: after the client gave up on the first GET
			return bulk(aRecord)
		}
		return bulk(other)
	})
	c, err := Dial(addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Timeout = 100 * time.Millisecond
	if _, err := c.Read("a", 0); err == nil {
		t.Fatal("the first read should time out")
	}
	time.Sleep(500 * time.Millisecond) // the late reply has arrived on the old connection
	c.Timeout = 2 * time.Second
	r, err := c.Read("b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Reason != "reauth_required" {
		t.Fatalf("key b read %q: the late reply to key a", r.Reason)
	}
}

// Lengths a hostile or broken server may announce: an error, never a panic or a huge allocation.
func TestHostileLengthsAreRefused(t *testing.T) {
	for _, reply := range []string{
		"$9223372036854775807\r\n",  // n+2 overflows
		"$99999999999999999999\r\n", // not an int
		"$536870912\r\n",            // 512 MiB: Redis's largest value, never a record
		"$-5\r\n",
		"+OK\r\n",
		":1\r\n",
		"$12\r\nshort\r\n", // cut short, then the server closes
	} {
		reply := reply
		addr := fakeRedis(t, func(int) string { return reply })
		c, err := Dial(addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Timeout = 500 * time.Millisecond
		within(t, 3*time.Second, func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("reply %q: panic %v", reply, p)
				}
			}()
			if v, err := c.Get("k"); err == nil && v != nil {
				t.Errorf("reply %q: value of %d bytes taken", reply, len(v))
			}
		})
		c.Close()
	}
}
