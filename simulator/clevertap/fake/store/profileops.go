package store

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// profileOperator is the operator of a profileData value, or "" when the value is set as it is.
func profileOperator(v any) (op string, arg any) {
	obj, ok := v.(map[string]any)
	if !ok || len(obj) != 1 {
		return "", nil
	}
	for k, arg := range obj {
		switch k {
		case clevertap.OpSet, clevertap.OpAdd, clevertap.OpRemove, clevertap.OpIncr, clevertap.OpDecr, clevertap.OpDelete:
			return k, arg
		}
	}
	return "", nil
}

// applyProfileData merges one upload's profileData into a profile's properties. Where the server's rule is
// UNCONFIRMED (an amount that is not a number, $incr on a missing or non-numeric property) the choice is the
// README's; the validator has already warned of the requests' own mistakes.
func applyProfileData(props, update map[string]any) {
	for key, value := range update {
		op, arg := profileOperator(value)
		switch op {
		case "":
			if list, ok := value.([]any); ok {
				props[key] = multiValues(nil, list)
			} else {
				props[key] = value
			}
		case clevertap.OpSet:
			props[key] = multiValues(nil, asList(arg))
		case clevertap.OpAdd:
			props[key] = multiValues(promote(props[key]), asList(arg))
		case clevertap.OpRemove:
			remove(props, key, asList(arg))
		case clevertap.OpIncr, clevertap.OpDecr:
			step(props, key, op, arg)
		case clevertap.OpDelete:
			if arg == true {
				delete(props, key)
			}
		}
	}
}

// multiValues appends values to a multi-value list: strings, each once, at most 100 with the oldest dropped;
// a value over 512 characters is dropped.
func multiValues(list []string, values []any) []string {
	out := slices.Clone(list)
	for _, v := range values {
		s, ok := multiValueString(v)
		if ok && utf8.RuneCountInString(s) <= clevertap.MaxMultiValueChars && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) > clevertap.MaxMultiValues {
		out = out[len(out)-clevertap.MaxMultiValues:]
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// multiValueString is a value as a multi-value string: CleverTap's multi-values are strings, so a number or a
// boolean is cast; null and nested structures are not values.
func multiValueString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// promote is a property as a multi-value list: a scalar becomes a list of its string form.
func promote(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case []string:
		return v
	}
	if s, ok := multiValueString(v); ok {
		return []string{s}
	}
	return nil
}

func asList(v any) []any {
	if list, ok := v.([]any); ok {
		return list
	}
	return []any{v}
}

// remove takes values out of a multi-value property (a scalar is promoted first); an emptied property goes.
func remove(props map[string]any, key string, values []any) {
	current, ok := props[key]
	if !ok {
		return
	}
	list := slices.DeleteFunc(slices.Clone(promote(current)), func(s string) bool {
		return slices.ContainsFunc(values, func(v any) bool {
			vs, ok := multiValueString(v)
			return ok && vs == s
		})
	})
	if len(list) == 0 {
		delete(props, key)
		return
	}
	props[key] = list
}

// step is $incr and $decr: a number property moves by the amount and a missing one starts from zero; a
// property that is not a number, or an amount that is not one, leaves the property as it was.
func step(props map[string]any, key, op string, arg any) {
	amount, ok := arg.(float64)
	if !ok {
		return
	}
	if op == clevertap.OpDecr {
		amount = -amount
	}
	switch current := props[key].(type) {
	case nil:
		props[key] = amount
	case float64:
		props[key] = current + amount
	}
}

func dndKey(account, channel, value string) string {
	return account + "\x00" + channel + "\x00" + value
}
