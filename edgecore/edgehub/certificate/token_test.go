package certificate_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/edgehub/certificate"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestParseToken: what keadm gettoken prints parses with its expiry; each
// malformed token is refused naming the part that is wrong, and no error
// quotes the token.
func TestParseToken(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{})
	good, err := c.Token(2 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := certificate.ParseToken(good + "\n")
	if err != nil {
		t.Fatalf("cloud's token: %v", err)
	}
	if d := time.Until(tok.Expires); d < time.Hour || d > 3*time.Hour {
		t.Errorf("expires in %v, want about 2h", d)
	}
	if tok.CAHash != good[:64] || tok.JWT != good[65:] {
		t.Errorf("split into %q / %q", tok.CAHash, tok.JWT)
	}
	hash := strings.Repeat("ab", 32)
	hs256 := seg(`{"alg":"HS256","typ":"JWT"}`)
	exp := seg(`{"exp":1900000000}`)
	sig := seg("signature")
	tests := []struct{ name, token, want string }{
		{"no separator", "abc", "want <ca-hash>.<jwt>"},
		{"short hash", "abcd." + hs256 + "." + exp + "." + sig, "CA hash has 4 hex digits"},
		{"hash not hex", strings.Repeat("zz", 32) + "." + hs256 + "." + exp + "." + sig, "CA hash is not hex"},
		{"two JWT parts", hash + "." + hs256 + "." + exp, "JWT part has 1 dots, want 2"},
		{"header not base64", hash + ".!!!." + exp + "." + sig, "JWT: header: not base64url"},
		{"header not JSON", hash + "." + seg("alg") + "." + exp + "." + sig, "JWT: header: not JSON"},
		{"other algorithm", hash + "." + seg(`{"alg":"none"}`) + "." + exp + "." + sig, `alg "none", want HS256`},
		{"no expiry", hash + "." + hs256 + "." + seg(`{"sub":"x"}`) + "." + sig, "claims: no exp"},
		{"expiry not a number", hash + "." + hs256 + "." + seg(`{"exp":"soon"}`) + "." + sig, "claims: not JSON"},
		{"no signature", hash + "." + hs256 + "." + exp + ".", "signature is not base64url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certificate.ParseToken(tt.token)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if len(tt.token) > 20 && strings.Contains(err.Error(), tt.token[len(tt.token)-12:]) {
				t.Fatalf("error quotes the token: %v", err)
			}
		})
	}
	fine := hash + "." + hs256 + "." + exp + "." + sig
	if tok, err := certificate.ParseToken(fine); err != nil || !tok.Expires.Equal(time.Unix(1900000000, 0)) {
		t.Fatalf("hand-made token: %+v, %v", tok, err)
	}
}
