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
