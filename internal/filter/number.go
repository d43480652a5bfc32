package filter

import (
	"strconv"
	"strings"
)

// number keeps a JSON number's value for numeric comparisons and its text
// for exact comparisons and for string operators, which Event Grid applies
// to the literal spelling of a number (a StringBeginsWith "5" matches the
// number 5).
type number struct {
	f float64
	s string
}

// EventBridge's engine (aws/event-ruler) compares an exact number in a
// pattern two ways at once: by its literal text, and, when the literal
// denotes a float64 exactly, by value. A literal denotes a float64 exactly
// when its decimal value equals the shortest decimal that reads back as
// the same float64 (0.1, 300, 3.0e2 and 123456789012 do; 12345678901234567890
// and 9007199254740993 do not: float64 would round them). So 300, 300.0 and
// 3.0e2 are the same number, and two 20-digit account or resource ids are
// equal only when they are spelled the same, never because float64 rounds
// them to the same value.

// sameNumber reports whether two JSON numbers are equal under those rules.
// exactA is a's exactness when the caller has it precomputed.
func sameNumber(a number, exactA bool, b number) bool {
	if a.s == b.s {
		return true
	}
	return exactA && a.f == b.f && exactFloat(b.s, b.f)
}

// exactFloat reports whether the JSON number literal s denotes f exactly
// in the sense above (f is s parsed as float64).
func exactFloat(s string, f float64) bool {
	if simpleExact(s) {
		return true
	}
	if f-f != 0 { // ±Inf: the literal is beyond float64's range
		return false
	}
	a, ok := canonicalDecimal(s)
	if !ok {
		return false
	}
	b, ok := canonicalDecimal(strconv.FormatFloat(f, 'e', -1, 64))
	return ok && a == b
}

// simpleExact is the fast path of exactFloat: a literal without exponent
// and with at most 15 digits is always exact, because every decimal of 15
// significant digits survives the round trip through float64 (DBL_DIG).
// That covers nearly every number events carry.
func simpleExact(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '-' || c == '.':
		default:
			return false
		}
	}
	return digits <= 15
}

// decimal is a JSON number in a canonical form: the significant digits
// without leading or trailing zeros, the sign and the power of ten of the
// first digit. Zero (of any sign or spelling) is the zero value.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// canonicalDecimal reads a JSON number literal. It works on the text, so a
// literal with an absurd exponent costs no more than its length; ok is
// false for text that is not a JSON number or whose exponent does not fit
// in 18 digits (such a number is never exactly a float64).
func canonicalDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	var digits strings.Builder
	intDigits := int64(0)
	seenDot := false
	start := i
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if seenDot {
				return decimal{}, false
			}
			seenDot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		if digits.Len() == 0 && c == '0' {
			// A leading zero: before the point it is no digit at all,
			// after it, it lowers the exponent.
			if seenDot {
				intDigits--
			}
			continue
		}
		digits.WriteByte(c)
		if !seenDot {
			intDigits++
		}
	}
	if i == start {
		return decimal{}, false
	}
	var exp int64
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return decimal{}, false
		}
		i++
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		if i == len(s) || len(s)-i > 18 {
			if digits.Len() == 0 && i < len(s) {
				return decimal{}, true // zero with a huge exponent is zero
			}
			return decimal{}, false
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return decimal{}, false
			}
			exp = exp*10 + int64(c-'0')
		}
		if neg {
			exp = -exp
		}
	}
	ds := strings.TrimRight(digits.String(), "0")
	if ds == "" {
		return decimal{}, true
	}
	d.digits = ds
	d.exp = intDigits + exp
	return d, true
}

// compareDecimal orders two canonical decimals: -1, 0 or +1.
func compareDecimal(a, b decimal) int {
	switch {
	case a.digits == "" && b.digits == "":
		return 0
	case a.digits == "":
		if b.neg {
			return 1
		}
		return -1
	case b.digits == "":
		if a.neg {
			return -1
		}
		return 1
	case a.neg != b.neg:
		if a.neg {
			return -1
		}
		return 1
	}
	c := compareMagnitude(a, b)
	if a.neg {
		return -c
	}
	return c
}

func compareMagnitude(a, b decimal) int {
	if a.exp != b.exp {
		if a.exp < b.exp {
			return -1
		}
		return 1
	}
	return strings.Compare(a.digits, b.digits)
}
