package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// maxPatternJSON bounds the JSON an event pattern may turn into. EventBridge
// refuses patterns above a few KiB anyway (the filter package says which
// limit); this only stops a YAML alias bomb before it is expanded.
const maxPatternJSON = 1 << 20

// jsonNumber is a number as JSON writes it.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// patternJSON turns an event pattern written in YAML (or JSON, which YAML
// reads) into JSON without losing how its numbers are spelled. Decoding to
// Go values first would turn 12345678901234567890 into a float64 and
// 300.0 into 300, so a pattern would match other events than the one
// written; numbers are copied as written instead, and strings are encoded
// without HTML escaping.
func patternJSON(n *yaml.Node) ([]byte, error) {
	w := &patternWriter{}
	if err := w.node(n, 0); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

type patternWriter struct{ buf bytes.Buffer }

// maxPatternNesting stops a self-referencing alias; the filter package
// enforces the documented, much lower, nesting limit with its own message.
const maxPatternNesting = 100

var errPatternTooLarge = fmt.Errorf("the pattern expands to more than %d bytes of JSON (through YAML aliases?)", maxPatternJSON)

func (w *patternWriter) node(n *yaml.Node, depth int) error {
	if depth > maxPatternNesting {
		return errors.New("the pattern nests too deeply (through YAML aliases?)")
	}
	if w.buf.Len() > maxPatternJSON {
		return errPatternTooLarge
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			w.buf.WriteString("null")
			return nil
		}
		return w.node(n.Content[0], depth)
	case yaml.AliasNode:
		return w.node(n.Alias, depth+1)
	case yaml.MappingNode:
		w.buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: a pattern key must be plain text (merge keys and complex keys are not supported)", k.Line)
			}
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.str(k.Value)
			w.buf.WriteByte(':')
			if err := w.node(n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		w.buf.WriteByte('}')
	case yaml.SequenceNode:
		w.buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.node(c, depth+1); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
	case yaml.ScalarNode:
		return w.scalar(n)
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}

func (w *patternWriter) scalar(n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		w.buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %q is not true or false", n.Line, n.Value)
		}
		w.buf.WriteString(strconv.FormatBool(b))
	case "!!int", "!!float":
		if jsonNumber.MatchString(n.Value) {
			w.buf.WriteString(n.Value) // exactly as written
			return nil
		}
		// YAML spellings JSON lacks (0x1F, 0o17, +5, 1_000): their value.
		var i int64
		if err := n.Decode(&i); err == nil {
			w.buf.WriteString(strconv.FormatInt(i, 10))
			return nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: %q is not a number", n.Line, n.Value)
		}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("line %d: %q is not a number JSON can hold (infinity and NaN are not)", n.Line, n.Value)
		}
		w.buf.Write(b)
	default:
		w.str(n.Value)
	}
	return nil
}

// str writes a JSON string without HTML escaping, so < > & in a pattern
// stay as the operator wrote them.
func (w *patternWriter) str(s string) {
	enc := json.NewEncoder(&w.buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	w.buf.Truncate(w.buf.Len() - 1)
}
