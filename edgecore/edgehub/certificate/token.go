// Package certificate obtains and renews the edge node's client certificate
// from cloudcore the way KubeEdge's edgehub does: a join token that pins the
// cloud CA by hash, a CSR signed by the cloud, and rotation before expiry.
package certificate

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Token is a parsed cloudcore join token: "<sha256hex(CA DER)>.<JWT>".
type Token struct {
	CAHash string // lower-case hex SHA-256 of the CA certificate's DER bytes
	JWT    string // HS256 bearer token, sent as "Authorization: Bearer <JWT>"
	// Expires is the JWT's exp claim: cloudcore refuses the token after it
	// (keadm gettoken's tokens last 24 h).
	Expires time.Time
}

// ParseToken splits a token as printed by `keadm gettoken` and checks its
// form: a 64-digit hex CA hash, then a JWT whose header says HS256 and
// whose claims carry exp, as cloudcore's token manager makes them. The
// signature can only be checked by the cloud. Errors never quote the
// token: it is a secret.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	hash, jwt, ok := strings.Cut(s, ".")
	if !ok || jwt == "" {
		return Token{}, fmt.Errorf("token: want <ca-hash>.<jwt>, got %d characters without a separator", len(s))
	}
	if len(hash) != sha256.Size*2 {
		return Token{}, fmt.Errorf("token: CA hash has %d hex digits, want %d", len(hash), sha256.Size*2)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Token{}, fmt.Errorf("token: CA hash is not hex: %w", err)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return Token{}, fmt.Errorf("token: JWT part has %d dots, want 2", len(parts)-1)
	}
	exp, err := checkJWT(parts)
	if err != nil {
		return Token{}, fmt.Errorf("token: JWT: %w", err)
	}
	return Token{CAHash: strings.ToLower(hash), JWT: jwt, Expires: exp}, nil
}

// checkJWT checks the header and claims of a JWT split at its dots and
// returns its expiry.
func checkJWT(parts []string) (time.Time, error) {
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return time.Time{}, fmt.Errorf("header: %w", err)
	}
	if header.Alg != "HS256" {
		return time.Time{}, fmt.Errorf("header: alg %q, want HS256", header.Alg)
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return time.Time{}, fmt.Errorf("claims: %w", err)
	}
	if claims.Exp == nil {
		return time.Time{}, fmt.Errorf("claims: no exp (expiry)")
	}
	exp, err := claims.Exp.Float64()
	if err != nil {
		return time.Time{}, fmt.Errorf("claims: exp %q is not a time: %w", claims.Exp.String(), err)
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil || parts[2] == "" {
		return time.Time{}, fmt.Errorf("signature is not base64url")
	}
	return time.Unix(int64(exp), 0).UTC(), nil
}

func decodeSegment(seg string, into any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("not base64url: %w", err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return nil
}

// CAHash returns the hash a token uses to pin a CA certificate.
func CAHash(caDER []byte) string {
	sum := sha256.Sum256(caDER)
	return hex.EncodeToString(sum[:])
}
