package eventformat

import (
	"encoding/json"
	"testing"
)

// plainString must agree with encoding/json wherever it answers.
func TestPlainStringAgreesWithJSON(t *testing.T) {
	for _, raw := range []string{`""`, `"abc"`, `"a\"b"`, `"a\\b"`, `"\u00e9"`, `"é€"`, "\"\xff\"", `"tab	"`, `1`, `"`, `null`} {
		got, ok := plainString([]byte(raw))
		if !ok {
			continue
		}
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil || got != want {
			t.Errorf("plainString(%s) = %q; encoding/json says %q (%v)", raw, got, want, err)
		}
	}
}

func TestParseErrorMessage(t *testing.T) {
	tests := []struct {
		err  *ParseError
		want string
	}{
		{&ParseError{Index: 2, Field: "id", Msg: "required field is missing"}, `event 2: field "id": required field is missing`},
		{&ParseError{Index: -1, Msg: "invalid JSON", Err: json.Unmarshal([]byte("{"), new(any))}, `invalid JSON: unexpected end of JSON input`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
