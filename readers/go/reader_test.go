package reader

import (
	"strings"
	"testing"
	"time"
)

// The fast path gives the answer encoding/json gives, on the SDK's layout and on near misses of it.
func TestFastPathAgreesWithEncodingJSON(t *testing.T) {
	now := time.Unix(1800000000, 0)
	tok := "at-" + strings.Repeat("x", 800)
	sdk := `{"v":1,"access_token":"` + tok + `","token_type":"Bearer","expires_at":1800003600,"scope":"a b","generation":1,"refreshed_at":1,"extras":{}}`
	cases := []string{
		sdk,
		strings.Replace(sdk, `1800003600`, `null`, 1),
		strings.Replace(sdk, `1800003600`, `1800000003`, 1), // too little time left
		strings.Replace(sdk, `1800003600`, `1799999000`, 1), // expired
		strings.Replace(sdk, `"scope":"a b"`, `"scope":null`, 1),
		strings.Replace(sdk, `"extras":{}`, `"extras":{"instance_url":"https://x"}`, 1),
		strings.Replace(sdk, `at-x`, `at\"x`, 1),                                 // an escape: encoding/json
		strings.Replace(sdk, `"extras":{}`, `"extras":{},"Access_Token":"B"`, 1), // a repeated name
		strings.Replace(sdk, `"extras":{}}`, `"extras":{}`, 1),                   // truncated
		strings.Replace(sdk, `1800003600`, `01800003600`, 1),                     // not JSON
		strings.Replace(sdk, `1800003600`, `1.8e9`, 1),                           // not an integer
		strings.Replace(sdk, `at-x`, `at\r\nX-Injected: 1\u0000x`, 1),            // a header injection
		strings.Replace(sdk, `at-x`, `at\u007fx`, 1),                             // DEL
		strings.Replace(sdk, `at-x`, `at\u00e9x`, 1),                             // not ASCII
		strings.Replace(sdk, `"Bearer"`, `"Bearer\r\nX: 1"`, 1),                  // in the token type
	}
	for i, c := range cases {
		got, want := Judge([]byte(c), now, 5*time.Second), judgeSlow([]byte(c), now, 5*time.Second)
		if got != want {
			t.Errorf("case %d: fast %+v, encoding/json %+v", i, got, want)
		}
	}
	if _, _, _, ok := fast([]byte(sdk)); !ok {
		t.Error("the SDK's own layout does not take the fast path")
	}
}

// A token or type that an HTTP header cannot carry as it is (CR LF, NUL, DEL, not ASCII) is no token: the record
// is refused, never turned into an Authorization header of two lines.
func TestATokenAHeaderCannotCarryIsRefused(t *testing.T) {
	now := time.Unix(1800000000, 0)
	sdk := `{"v":1,"access_token":"at-x","token_type":"Bearer","expires_at":1800003600,"scope":null,"generation":1,"refreshed_at":1,"extras":{}}`
	if got := Judge([]byte(sdk), now, 5*time.Second); got.Reason != "ok" {
		t.Fatalf("the plain record: %+v", got)
	}
	for _, bad := range []string{`at\r\nX-Injected: 1`, `at\u0000x`, `at\u007fx`, `at\u00e9x`, "at\u00e9x", `at\tx`} {
		for _, c := range []string{strings.Replace(sdk, `at-x`, bad, 1), strings.Replace(sdk, `"Bearer"`, `"`+bad+`"`, 1)} {
			if got := Judge([]byte(c), now, 5*time.Second); got.Reason != "unsupported_version" || got.Authorization != "" {
				t.Errorf("%s: %+v", c, got)
			}
		}
	}
}
