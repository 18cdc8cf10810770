package tiktok

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
)

// The signing vector of /work/shared/marketplaces.md over the documented
// order status webhook.
const (
	vectorAppKey = "29a39d"
	vectorSecret = "e59af819cc"
	vectorBody   = `{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","order_status":"UNPAID","is_on_hold_order":false,"update_time":1644412885}}`
	vectorSig    = "e21e909414e500178230da539adfc1faddd443124f93a8f67a060568a49620be"
)

func TestSignPushVector(t *testing.T) {
	t.Parallel()
	if got := SignPush(vectorAppKey, []byte(vectorSecret), []byte(vectorBody)); got != vectorSig {
		t.Fatalf("SignPush = %s, want %s", got, vectorSig)
	}
}

func TestSignPushMatchesHMAC(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":3,"shop_id":"1","data":{"order_id":"2"}}`)
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte("key"))
	mac.Write(body)
	if got, want := SignPush("key", []byte("secret"), body), hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("SignPush = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(vectorBody)
	flipped := []byte(vectorBody)
	flipped[len(flipped)-3] ^= 0x01
	v := NewVerifier(vectorAppKey, []byte(vectorSecret))
	tests := []pushtest.VerifyCase[*Verifier]{
		{"doc vector", v, vectorSig, body, nil},
		{"upper-case hex", v, strings.ToUpper(vectorSig), body, nil},
		{"surrounding spaces", v, "\t" + vectorSig + " ", body, nil},
		{"wrong secret", NewVerifier(vectorAppKey, []byte("e59af819cd")), vectorSig, body, marketplace.ErrBadSignature},
		{"wrong app key", NewVerifier("29a39e", []byte(vectorSecret)), vectorSig, body, marketplace.ErrBadSignature},
		{"flipped body byte", v, vectorSig, flipped, marketplace.ErrBadSignature},
		{"empty body", v, vectorSig, nil, marketplace.ErrBadSignature},
		{"missing", v, "", body, marketplace.ErrMissingSignature},
		{"only spaces", v, " ", body, marketplace.ErrMissingSignature},
		{"non-hex", v, "-" + vectorSig[1:], body, marketplace.ErrBadSignature},
		{"too short", v, vectorSig[:32], body, marketplace.ErrBadSignature},
		{"too long", v, vectorSig + vectorSig, body, marketplace.ErrBadSignature},
		{"bearer prefix", v, "Bearer " + vectorSig, body, marketplace.ErrBadSignature},
		{"empty secret", NewVerifier(vectorAppKey, nil), SignPush(vectorAppKey, nil, body), body, marketplace.ErrBadSignature},
	}
	pushtest.RunVerifyCases(t, tests)
}

func TestVerifyEveryFlippedByte(t *testing.T) {
	t.Parallel()
	v := NewVerifier(vectorAppKey, []byte(vectorSecret))
	pushtest.CheckEveryFlippedByte(t, v.Verify, vectorSig, vectorBody)
}

func TestVerifierCopiesSecret(t *testing.T) {
	t.Parallel()
	secret := []byte(vectorSecret)
	v := NewVerifier(vectorAppKey, secret)
	secret[0] = 'X'
	if err := v.Verify(vectorSig, []byte(vectorBody)); err != nil {
		t.Fatalf("Verify after the caller changed its secret slice = %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	v := NewVerifier(vectorAppKey, []byte(vectorSecret))
	other := SignPush(vectorAppKey, []byte("other"), []byte(vectorBody))
	pushtest.VerifyConcurrent(t, v.Verify, vectorSig, vectorBody, other, vectorBody)
}
