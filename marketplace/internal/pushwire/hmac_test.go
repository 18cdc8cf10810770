package pushwire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/orderlane/orderlane/marketplace"
)

func TestSign(t *testing.T) {
	t.Parallel()
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte("prefix|body"))
	if got, want := Sign("prefix|", []byte("secret"), []byte("body")), hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	// The vectors of the marketplace documentation, with each
	// marketplace's prefix.
	vectors := []struct{ prefix, key, body, sig string }{
		{"123456", "3412gyo124goi3124", `{"seller_id":"1234567", "message_type":0, "data":{...}..}`, "f3d2ca947f16a50b577c036adecd18bec126ea19cadedd59816e255d3b6104ab"},
		{"29a39d", "e59af819cc", `{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","order_status":"UNPAID","is_on_hold_order":false,"update_time":1644412885}}`, "e21e909414e500178230da539adfc1faddd443124f93a8f67a060568a49620be"},
		{"https://example.com/webhook/shopee|", "test_push_partner_key", `{"msg_id":"64ca21a145e29bda3a6e31203c800e00","data":{"completed_scenario":null,"items":[],"ordersn":"251214B9XAB0ST","status":"READY_TO_SHIP","update_time":1765689439},"shop_id":336094210,"code":3,"timestamp":1765689440}`, "70d21c4ef335a96967dd3dbe3cc97ab21fedfcd89bb0ce4a6495e9d3d8049472"},
	}
	for _, vec := range vectors {
		if got := Sign(vec.prefix, []byte(vec.key), []byte(vec.body)); got != vec.sig {
			t.Errorf("Sign(%q) = %s, want %s", vec.prefix, got, vec.sig)
		}
		v := NewVerifier(vec.prefix, []byte(vec.key))
		if err := v.Verify(vec.sig, []byte(vec.body)); err != nil {
			t.Errorf("Verify(%q vector) = %v", vec.prefix, err)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"code":3}`)
	sig := Sign("app", []byte("k1"), body)
	sig2 := Sign("app", []byte("k2"), body)
	v := NewVerifier("app", []byte("k1"))
	tests := []struct {
		name string
		v    Verifier
		sig  string
		body []byte
		want error
	}{
		{"valid", v, sig, body, nil},
		{"upper-case hex", v, strings.ToUpper(sig), body, nil},
		{"mixed-case hex", v, strings.ToUpper(sig[:7]) + sig[7:], body, nil},
		{"surrounding white space", v, " \t" + sig + "\r\n", body, nil},
		{"missing", v, "", body, marketplace.ErrMissingSignature},
		{"only white space", v, " \t\n", body, marketplace.ErrMissingSignature},
		{"other key", v, sig2, body, marketplace.ErrBadSignature},
		{"other prefix", NewVerifier("apq", []byte("k1")), sig, body, marketplace.ErrBadSignature},
		{"prefix moved into the body", NewVerifier("ap", []byte("k1")), sig, append([]byte("p"), body...), nil},
		{"other body", v, sig, []byte(`{"code":4}`), marketplace.ErrBadSignature},
		{"empty body", v, sig, nil, marketplace.ErrBadSignature},
		{"too short", v, sig[:63], body, marketplace.ErrBadSignature},
		{"too long", v, sig + "0", body, marketplace.ErrBadSignature},
		{"non-hex", v, "g" + sig[1:], body, marketplace.ErrBadSignature},
		{"inner space", v, sig[:32] + " " + sig[33:], body, marketplace.ErrBadSignature},
		{"bearer prefix", v, "Bearer " + sig, body, marketplace.ErrBadSignature},
		{"base64", v, "cNIcTvM1qWln3T2+PMl6sh/t/Nibuw5KZJXp09gElHI=", body, marketplace.ErrBadSignature},
		{"second key", NewVerifier("app", []byte("k2"), []byte("k1")), sig, body, nil},
		{"first key", NewVerifier("app", []byte("k1"), []byte("k2")), sig, body, nil},
		{"neither key", NewVerifier("app", []byte("k2"), []byte("k3")), sig, body, marketplace.ErrBadSignature},
		{"empty keys ignored", NewVerifier("app", nil, []byte{}, []byte("k1")), sig, body, nil},
		{"no keys", NewVerifier("app"), sig, body, marketplace.ErrBadSignature},
		{"empty key rejects its own signature", NewVerifier("app", []byte{}), Sign("app", nil, body), body, marketplace.ErrBadSignature},
		{"zero Verifier", Verifier{}, Sign("", nil, body), body, marketplace.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.v.Verify(tt.sig, tt.body); err != tt.want {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifierCopiesKeys(t *testing.T) {
	t.Parallel()
	body := []byte("body")
	k1, k2 := []byte("key-one"), []byte("key-two")
	sig1, sig2 := Sign("p", k1, body), Sign("p", k2, body)
	v := NewVerifier("p", k1, k2)
	k1[0], k2[0] = 'X', 'X'
	if err := v.Verify(sig1, body); err != nil {
		t.Errorf("Verify with the first key after the caller changed it = %v", err)
	}
	if err := v.Verify(sig2, body); err != nil {
		t.Errorf("Verify with the second key after the caller changed it = %v", err)
	}
}

func TestVerifyEveryFlippedByte(t *testing.T) {
	t.Parallel()
	body := []byte(`{"seller_id":"1234567","message_type":0}`)
	sig := Sign("123456", []byte("secret"), body)
	v := NewVerifier("123456", []byte("secret"))
	for i := range body {
		b := append([]byte(nil), body...)
		b[i] ^= 0x01
		if err := v.Verify(sig, b); !errors.Is(err, marketplace.ErrBadSignature) {
			t.Fatalf("byte %d flipped: Verify = %v", i, err)
		}
	}
	for i := range len(sig) {
		s := []byte(sig)
		s[i] ^= 0x01 // a hex digit stays a hex digit or becomes a non-hex one
		if err := v.Verify(string(s), body); !errors.Is(err, marketplace.ErrBadSignature) {
			t.Fatalf("signature byte %d flipped: Verify = %v", i, err)
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	body := []byte("body")
	v := NewVerifier("p", []byte("k1"), []byte("k2"))
	good, bad := Sign("p", []byte("k2"), body), Sign("p", []byte("k3"), body)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				sig, want := good, error(nil)
				if (g+i)%3 == 0 {
					sig, want = bad, marketplace.ErrBadSignature
				}
				if err := v.Verify(sig, body); err != want {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Verify: unexpected result %v", err)
	}
}

func TestDecodeHex(t *testing.T) {
	t.Parallel()
	var dst [4]byte
	if !decodeHex(dst[:], "00fFa9B1") || dst != [4]byte{0x00, 0xff, 0xa9, 0xb1} {
		t.Fatalf("decodeHex = %x", dst)
	}
	for _, s := range []string{"", "00ff", "00ffa9b1c2", "00ffa9bg", "00ffa9b ", "0xffa9b1", "ééé"} {
		if decodeHex(dst[:], s) {
			t.Errorf("decodeHex(%q) = true", s)
		}
	}
}
