package lazada

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/orderlane/orderlane/marketplace"
	"github.com/orderlane/orderlane/marketplace/internal/pushtest"
)

const (
	docAppKey = "123456"
	docSecret = "3412gyo124goi3124"
	// docBody is the message body of the signature example in Lazada's push
	// documentation, with the data elided exactly as the document writes it.
	docBody = `{"seller_id":"1234567", "message_type":0, "data":{...}..}`
	docSig  = "f3d2ca947f16a50b577c036adecd18bec126ea19cadedd59816e255d3b6104ab"

	// The TikTok Shop push vector: TikTok signs with the same algorithm,
	// HMAC(secret, app_key + body), so Lazada's code must reproduce it.
	tiktokAppKey = "29a39d"
	tiktokSecret = "e59af819cc"
	tiktokBody   = `{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","order_status":"UNPAID","is_on_hold_order":false,"update_time":1644412885}}`
	tiktokSig    = "e21e909414e500178230da539adfc1faddd443124f93a8f67a060568a49620be"

	// tradeOrderBody is the documented trade order push.
	tradeOrderBody = `{"seller_id":"1234567","message_type":0,"data":{"order_status":"unpaid","trade_order_id":"260422900198363","trade_order_line_id":"260422900298363","status_update_time":1603698638},"timestamp":1603766859530,"site":"lazada_vn"}`
)

func TestSignPushMatchesHMAC(t *testing.T) {
	t.Parallel()
	body := []byte(tradeOrderBody)
	mac := hmac.New(sha256.New, []byte(docSecret))
	mac.Write([]byte(docAppKey + tradeOrderBody))
	want := hex.EncodeToString(mac.Sum(nil))
	if got := SignPush(docAppKey, []byte(docSecret), body); got != want {
		t.Fatalf("SignPush = %s, want %s", got, want)
	}
}

func TestSignPushDocVector(t *testing.T) {
	t.Parallel()
	if got := SignPush(docAppKey, []byte(docSecret), []byte(docBody)); got != docSig {
		t.Fatalf("SignPush = %s, want %s", got, docSig)
	}
}

func TestSignPushTikTokVector(t *testing.T) {
	t.Parallel()
	if got := SignPush(tiktokAppKey, []byte(tiktokSecret), []byte(tiktokBody)); got != tiktokSig {
		t.Fatalf("SignPush = %s, want %s", got, tiktokSig)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(tradeOrderBody)
	sig := SignPush(docAppKey, []byte(docSecret), body)
	flipped := []byte(tradeOrderBody)
	flipped[10] ^= 0x01
	v := NewVerifier(docAppKey, []byte(docSecret))
	tests := []pushtest.VerifyCase[*Verifier]{
		{"valid", v, sig, body, nil},
		{"doc vector", v, docSig, []byte(docBody), nil},
		{"tiktok vector", NewVerifier(tiktokAppKey, []byte(tiktokSecret)), tiktokSig, []byte(tiktokBody), nil},
		{"upper-case hex", v, strings.ToUpper(sig), body, nil},
		{"surrounding spaces", v, " " + sig + " ", body, nil},
		{"wrong secret", NewVerifier(docAppKey, []byte("other")), sig, body, marketplace.ErrBadSignature},
		{"wrong app key", NewVerifier("654321", []byte(docSecret)), sig, body, marketplace.ErrBadSignature},
		{"flipped body byte", v, sig, flipped, marketplace.ErrBadSignature},
		{"signature of another body", v, docSig, body, marketplace.ErrBadSignature},
		{"missing", v, "", body, marketplace.ErrMissingSignature},
		{"only spaces", v, "  ", body, marketplace.ErrMissingSignature},
		{"non-hex", v, sig[:63] + "x", body, marketplace.ErrBadSignature},
		{"too short", v, sig[:62], body, marketplace.ErrBadSignature},
		{"too long", v, sig + "00", body, marketplace.ErrBadSignature},
		{"bearer prefix", v, "Bearer " + sig, body, marketplace.ErrBadSignature},
		{"empty secret", NewVerifier(docAppKey, nil), SignPush(docAppKey, nil, body), body, marketplace.ErrBadSignature},
	}
	pushtest.RunVerifyCases(t, tests)
}

func TestVerifyEveryFlippedByte(t *testing.T) {
	t.Parallel()
	v := NewVerifier(docAppKey, []byte(docSecret))
	sig := SignPush(docAppKey, []byte(docSecret), []byte(tradeOrderBody))
	pushtest.CheckEveryFlippedByte(t, v.Verify, sig, tradeOrderBody)
}

func TestVerifierCopiesSecret(t *testing.T) {
	t.Parallel()
	secret := []byte(docSecret)
	v := NewVerifier(docAppKey, secret)
	secret[0] = 'X'
	if err := v.Verify(docSig, []byte(docBody)); err != nil {
		t.Fatalf("Verify after the caller changed its secret slice = %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	v := NewVerifier(docAppKey, []byte(docSecret))
	pushtest.VerifyConcurrent(t, v.Verify, docSig, docBody, docSig, tradeOrderBody)
}
