package fake

import "encoding/json"

// locateRecords returns the byte spans of the elements of the first top-level "d" array of a body that is
// already known to be valid JSON, so records can be echoed and stored exactly as they were uploaded.
func locateRecords(body []byte) []span {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return nil
		}
		keyStart := i
		i = skipString(body, i)
		isD := objectKeyIs(body[keyStart:i], "d")
		i = skipSpace(body, i) + 1 // the colon
		i = skipSpace(body, i)
		if isD {
			if body[i] != '[' {
				return nil
			}
			return arrayElements(body, i)
		}
		i = skipValue(body, i)
		i = skipSpace(body, i)
		if i < len(body) && body[i] == ',' {
			i++
		}
	}
}

// objectKeyIs compares a quoted key with a name, decoding escapes such as "\u0064" only when there are any.
func objectKeyIs(quoted []byte, name string) bool {
	if len(quoted) == len(name)+2 && string(quoted[1:len(quoted)-1]) == name {
		return true
	}
	for _, c := range quoted {
		if c == '\\' {
			var key string
			return json.Unmarshal(quoted, &key) == nil && key == name
		}
	}
	return false
}

func arrayElements(body []byte, i int) []span {
	var out []span
	i++ // [
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] == ']' {
			return out
		}
		start := i
		i = skipValue(body, i)
		out = append(out, span{start, i})
		i = skipSpace(body, i)
		if i < len(body) && body[i] == ',' {
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the closing quote of the string starting at i.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index just past the value starting at i.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default:
		for i < len(b) && b[i] != ',' && b[i] != ']' && b[i] != '}' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' &&
			b[i] != '\t' {
			i++
		}
		return i
	}
}
