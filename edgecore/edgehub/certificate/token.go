// Package certificate obtains and renews the edge node's client certificate
// from cloudcore the way KubeEdge's edgehub does: a join token that pins the
// cloud CA by hash, a CSR signed by the cloud, and rotation before expiry.
package certificate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Token is a parsed cloudcore join token: "<sha256hex(CA DER)>.<JWT>".
type Token struct {
	CAHash string // lower-case hex SHA-256 of the CA certificate's DER bytes
	JWT    string // HS256 bearer token, sent as "Authorization: Bearer <JWT>"
}

// ParseToken splits a token as printed by `keadm gettoken`.
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
	if strings.Count(jwt, ".") != 2 {
		return Token{}, fmt.Errorf("token: JWT part has %d dots, want 2", strings.Count(jwt, "."))
	}
	return Token{CAHash: strings.ToLower(hash), JWT: jwt}, nil
}

// CAHash returns the hash a token uses to pin a CA certificate.
func CAHash(caDER []byte) string {
	sum := sha256.Sum256(caDER)
	return hex.EncodeToString(sum[:])
}
