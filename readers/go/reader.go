// Package reader reads freshtoken KV records from Redis with the standard library only: a RESP GET over
// net.Conn, then the record (v 1 a token, v 2 a reason) judged into a reason and an HTTP status.
package reader

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Status is the HTTP status a gateway answers with for each reason ("ok": go on with the request).
var Status = map[string]int{"ok": 200, "unknown": 404, "reauth_required": 403, "expired": 503, "unsupported_version": 500}

var reasons = map[string]string{"reauth_required": "reauth_required", "refresh_failing": "expired", "misconfigured": "expired"}

// Reading is the answer for one key; Authorization is set only when Reason is "ok".
type Reading struct {
	Reason        string `json:"reason"`
	Status        int    `json:"status"`
	Authorization string `json:"authorization,omitempty"`
}

type record struct {
	V           *int            `json:"v"`
	AccessToken *string         `json:"access_token"`
	TokenType   *string         `json:"token_type"`
	ExpiresAt   json.RawMessage `json:"expires_at"` // "null" for null, empty when absent
	Status      *string         `json:"status"`
}

func answer(reason string) Reading { return Reading{Reason: reason, Status: Status[reason]} }

// Judge reads one KV value (nil: the key holds nothing) at now, refusing tokens with less than minRemaining left.
func Judge(value []byte, now time.Time, minRemaining time.Duration) Reading {
	if value == nil {
		return answer("unknown")
	}
	if typ, token, exp, ok := fast(value); ok {
		if exp >= 0 && time.Unix(exp, 0).Sub(now) < minRemaining {
			return answer("expired")
		}
		return Reading{Reason: "ok", Status: 200, Authorization: typ + " " + token}
	}
	return judgeSlow(value, now, minRemaining)
}

// judgeSlow is Judge through encoding/json, for every record the fast path does not take.
func judgeSlow(value []byte, now time.Time, minRemaining time.Duration) Reading {
	var r record
	if json.Unmarshal(value, &r) != nil || r.V == nil {
		return answer("unsupported_version")
	}
	switch *r.V {
	case 1:
		typ := "Bearer"
		if r.TokenType != nil {
			typ = *r.TokenType
		}
		if r.AccessToken == nil || *r.AccessToken == "" || len(r.ExpiresAt) == 0 ||
			!headerSafe(*r.AccessToken) || !headerSafe(typ) {
			return answer("unsupported_version")
		}
		if string(r.ExpiresAt) != "null" {
			exp, err := strconv.ParseInt(string(r.ExpiresAt), 10, 64)
			if err != nil {
				return answer("unsupported_version")
			}
			if time.Unix(exp, 0).Sub(now) < minRemaining {
				return answer("expired")
			}
		}
		return Reading{Reason: "ok", Status: 200, Authorization: typ + " " + *r.AccessToken}
	case 2:
		if reason, ok := reasons[strOr(r.Status)]; ok && r.AccessToken == nil {
			return answer(reason)
		}
	}
	return answer("unsupported_version")
}

var (
	fastPrefix = []byte(`{"v":1,"access_token":"`)
	fastType   = []byte(`","token_type":"`)
	fastExp    = []byte(`","expires_at":`)
	fastScope  = []byte(`,"scope":`)
	fastNames  = [][]byte{[]byte(`"v"`), []byte(`"access_token"`), []byte(`"token_type"`), []byte(`"expires_at"`)}
)

// plain: printable ASCII without a quote or a backslash (a JSON string's content that needs no decoding).
func plain(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

// headerSafe: printable ASCII only (RFC 6749 A.12: access-token = 1*VSCHAR, %x20-7E), what an HTTP header
// carries as it is; a token or type with a CR, LF, DEL or non-ASCII letter is no token.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// fast reads a v1 record exactly as the SDK writes it (field order, no whitespace, no escapes) without
// encoding/json's reflection: the token, its type and expires_at (-1: null) are cut out, the short rest is
// checked with json.Valid. ok is false for anything else, which then takes json.Unmarshal.
func fast(v []byte) (typ, token string, exp int64, ok bool) {
	if !bytes.HasPrefix(v, fastPrefix) {
		return
	}
	rest := v[len(fastPrefix):]
	i := bytes.IndexByte(rest, '"')
	if i <= 0 || !plain(rest[:i]) || !bytes.HasPrefix(rest[i:], fastType) {
		return
	}
	tok := rest[:i]
	rest = rest[i+len(fastType):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || !plain(rest[:j]) || !bytes.HasPrefix(rest[j:], fastExp) {
		return
	}
	kind := rest[:j]
	rest = rest[j+len(fastExp):]
	k := bytes.IndexByte(rest, ',')
	if k <= 0 || !bytes.HasPrefix(rest[k:], fastScope) {
		return
	}
	tail := rest[k:]
	if bytes.IndexByte(tail, '\\') >= 0 || !json.Valid(append([]byte{'{'}, tail[1:]...)) {
		return
	}
	lower := bytes.ToLower(tail) // encoding/json matches names without case: a repeated name would win there
	for _, name := range fastNames {
		if bytes.Contains(lower, name) {
			return
		}
	}
	if n := rest[:k]; string(n) == "null" {
		exp = -1
	} else if n[0] == '0' && len(n) > 1 {
		return
	} else if e, err := strconv.ParseInt(string(n), 10, 64); err == nil && e >= 0 && n[0] != '+' {
		exp = e
	} else {
		return
	}
	return string(kind), string(tok), exp, true
}

func strOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MaxValue is the largest value Get takes (a record is a few KiB; Redis allows 512 MiB). A longer one is an error.
const MaxValue = 1 << 20

// Client is one Redis connection (not safe for concurrent use: one per goroutine, or a pool of them).
//
// Every GET has a deadline (Timeout): a server that stops answering (SIGSTOP, a dead host behind a live socket)
// fails the read instead of blocking the goroutine for good. A connection that failed mid-reply is dropped, and
// the next GET dials again, so a late reply is never read as the answer to the next key.
type Client struct {
	Prefix  string        // prepended to every key (the runtime's KV prefix)
	Timeout time.Duration // the deadline of each GET (write and reply); Dial's timeout unless changed
	addr    string
	conn    net.Conn
	rd      *bufio.Reader
}

// Dial connects to Redis at addr ("127.0.0.1:6379"); timeout bounds the connect and, unless Timeout is changed,
// each GET.
func Dial(addr string, timeout time.Duration) (*Client, error) {
	c := &Client{Timeout: timeout, addr: addr}
	if err := c.dial(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) dial() error {
	conn, err := net.DialTimeout("tcp", c.addr, c.Timeout)
	if err != nil {
		return err
	}
	c.conn, c.rd = conn, bufio.NewReader(conn)
	return nil
}

// errProtocol: the connection cannot be trusted past this reply (it is dropped).
var errProtocol = errors.New("redis: unexpected reply to GET")

// Get sends GET key (RESP) and returns the value, or nil when the key holds nothing.
func (c *Client) Get(key string) ([]byte, error) {
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return nil, err
		}
	}
	v, keep, err := c.get(key)
	if err != nil && !keep {
		c.conn.Close()
		c.conn, c.rd = nil, nil
	}
	return v, err
}

// get is one GET; keep says whether the connection is still in step after an error (a Redis error reply).
func (c *Client) get(key string) ([]byte, bool, error) {
	if c.Timeout > 0 {
		if err := c.conn.SetDeadline(time.Now().Add(c.Timeout)); err != nil {
			return nil, false, err
		}
	}
	if _, err := fmt.Fprintf(c.conn, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key); err != nil {
		return nil, false, err
	}
	line, err := c.rd.ReadString('\n')
	if err != nil {
		return nil, false, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return nil, true, errors.New("redis: " + line[1:])
	}
	if !strings.HasPrefix(line, "$") {
		return nil, false, errProtocol
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < -1 {
		return nil, false, errProtocol
	}
	if n == -1 {
		return nil, true, nil // no value
	}
	if n > MaxValue {
		return nil, false, fmt.Errorf("redis: a value of %d bytes, more than MaxValue (%d)", n, MaxValue)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(c.rd, buf); err != nil {
		return nil, false, err
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return nil, false, errProtocol
	}
	return buf[:n], true, nil
}

// Read is GET prefix+key, judged.
func (c *Client) Read(key string, minRemaining time.Duration) (Reading, error) {
	v, err := c.Get(c.Prefix + key)
	if err != nil {
		return Reading{}, err
	}
	return Judge(v, time.Now(), minRemaining), nil
}

// Close closes the connection.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn, c.rd = nil, nil
	return err
}
