package shopee

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
)

// The signing vector of /work/shared/marketplaces.md: a live push signed with
// the push partner key over the documented code 3 example.
const (
	vectorURL  = "https://example.com/webhook/shopee"
	vectorKey  = "test_push_partner_key"
	vectorSig  = "70d21c4ef335a96967dd3dbe3cc97ab21fedfcd89bb0ce4a6495e9d3d8049472"
	vectorBody = `{"msg_id":"64ca21a145e29bda3a6e31203c800e00","data":{"completed_scenario":null,"items":[],"ordersn":"251214B9XAB0ST","status":"READY_TO_SHIP","update_time":1765689439},"shop_id":336094210,"code":3,"timestamp":1765689440}`
)

func TestSignPushVector(t *testing.T) {
	t.Parallel()
	if got := SignPush(vectorURL, []byte(vectorKey), []byte(vectorBody)); got != vectorSig {
		t.Fatalf("SignPush = %s, want %s", got, vectorSig)
	}
}

func TestSignPushMatchesHMAC(t *testing.T) {
	t.Parallel()
	body := []byte(`{"code":4,"shop_id":1,"data":{"ordersn":"X"}}`)
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write([]byte("https://h/p|"))
	mac.Write(body)
	if got, want := SignPush("https://h/p", []byte("k"), body), hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("SignPush = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(vectorBody)
	flipped := []byte(vectorBody)
	flipped[len(flipped)/2] ^= 0x01
	tests := []pushtest.VerifyCase[*Verifier]{
		{"doc vector", NewVerifier(vectorURL, []byte(vectorKey)), vectorSig, body, nil},
		{"upper-case hex", NewVerifier(vectorURL, []byte(vectorKey)), strings.ToUpper(vectorSig), body, nil},
		{"surrounding spaces", NewVerifier(vectorURL, []byte(vectorKey)), "  " + vectorSig + "\t", body, nil},
		{"wrong key", NewVerifier(vectorURL, []byte("other_key")), vectorSig, body, marketplace.ErrBadSignature},
		{"flipped body byte", NewVerifier(vectorURL, []byte(vectorKey)), vectorSig, flipped, marketplace.ErrBadSignature},
		{"empty body", NewVerifier(vectorURL, []byte(vectorKey)), vectorSig, nil, marketplace.ErrBadSignature},
		{"other callback URL", NewVerifier("http://example.com/webhook/shopee", []byte(vectorKey)), vectorSig, body, marketplace.ErrBadSignature},
		{"trailing slash in URL", NewVerifier(vectorURL+"/", []byte(vectorKey)), vectorSig, body, marketplace.ErrBadSignature},
		{"missing", NewVerifier(vectorURL, []byte(vectorKey)), "", body, marketplace.ErrMissingSignature},
		{"only spaces", NewVerifier(vectorURL, []byte(vectorKey)), "   ", body, marketplace.ErrMissingSignature},
		{"non-hex", NewVerifier(vectorURL, []byte(vectorKey)), "g" + vectorSig[1:], body, marketplace.ErrBadSignature},
		{"too short", NewVerifier(vectorURL, []byte(vectorKey)), vectorSig[:63], body, marketplace.ErrBadSignature},
		{"too long", NewVerifier(vectorURL, []byte(vectorKey)), vectorSig + "0", body, marketplace.ErrBadSignature},
		{"bearer prefix", NewVerifier(vectorURL, []byte(vectorKey)), "Bearer " + vectorSig, body, marketplace.ErrBadSignature},
		{"base64 of the mac", NewVerifier(vectorURL, []byte(vectorKey)), "cNIcTvM1qWln3T2+PMl6sh/t/Nibuw5KZJXp09gElHI=", body, marketplace.ErrBadSignature},
		{"fallback partner key", NewVerifier(vectorURL, []byte("push_key"), []byte(vectorKey)), vectorSig, body, nil},
		{"push key first", NewVerifier(vectorURL, []byte(vectorKey), []byte("partner_key")), vectorSig, body, nil},
		{"neither key", NewVerifier(vectorURL, []byte("push_key"), []byte("partner_key")), vectorSig, body, marketplace.ErrBadSignature},
		{"unset push key ignored", NewVerifier(vectorURL, nil, []byte(vectorKey)), vectorSig, body, nil},
		{"no keys", NewVerifier(vectorURL), vectorSig, body, marketplace.ErrBadSignature},
		{"empty key rejects its own signature", NewVerifier(vectorURL, []byte{}), SignPush(vectorURL, nil, body), body, marketplace.ErrBadSignature},
	}
	pushtest.RunVerifyCases(t, tests)
}

func TestVerifyEveryFlippedByte(t *testing.T) {
	t.Parallel()
	v := NewVerifier(vectorURL, []byte(vectorKey))
	pushtest.CheckEveryFlippedByte(t, v.Verify, vectorSig, vectorBody)
}

func TestVerifierCopiesKeys(t *testing.T) {
	t.Parallel()
	key := []byte(vectorKey)
	v := NewVerifier(vectorURL, key)
	key[0] = 'X'
	if err := v.Verify(vectorSig, []byte(vectorBody)); err != nil {
		t.Fatalf("Verify after the caller changed its key slice = %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	v := NewVerifier(vectorURL, []byte("push_key"), []byte(vectorKey))
	nope := SignPush(vectorURL, []byte("nope"), []byte(vectorBody))
	pushtest.VerifyConcurrent(t, v.Verify, vectorSig, vectorBody, nope, vectorBody)
}
