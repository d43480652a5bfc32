package filter

import (
	"strings"
	"unicode/utf8"
)

// Case-insensitive string tests against a pattern that is already
// lower-cased. Filters run on every event, so the common all-ASCII case is
// compared in place; anything else falls back to strings.ToLower, which
// handles Unicode case mapping (where byte lengths can change).

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalLowerASCII reports whether s equals lower (already lower-case)
// ignoring ASCII case; both must be ASCII.
func equalLowerASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

func foldEqual(s, lower string) bool {
	if isASCII(s) && isASCII(lower) {
		return equalLowerASCII(s, lower)
	}
	return strings.ToLower(s) == lower
}

func foldHasPrefix(s, lower string) bool {
	if isASCII(s) && isASCII(lower) {
		return len(s) >= len(lower) && equalLowerASCII(s[:len(lower)], lower)
	}
	return strings.HasPrefix(strings.ToLower(s), lower)
}

func foldHasSuffix(s, lower string) bool {
	if isASCII(s) && isASCII(lower) {
		return len(s) >= len(lower) && equalLowerASCII(s[len(s)-len(lower):], lower)
	}
	return strings.HasSuffix(strings.ToLower(s), lower)
}

func foldContains(s, lower string) bool {
	if isASCII(s) && isASCII(lower) {
		for i := 0; i+len(lower) <= len(s); i++ {
			if equalLowerASCII(s[i:i+len(lower)], lower) {
				return true
			}
		}
		return false
	}
	return strings.Contains(strings.ToLower(s), lower)
}
