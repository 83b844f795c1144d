// Package envflag gives every flag of a flag.FlagSet an environment twin, PREFIX_FLAG_NAME, with flags winning.
package envflag

import (
	"flag"
	"fmt"
	"strings"
)

// EnvName is the environment variable twin of a flag: --journal-limit with prefix SIMULATOR is SIMULATOR_JOURNAL_LIMIT.
func EnvName(prefix, flagName string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args, then sets each flag not given on the command line from its environment twin.
func Parse(fs *flag.FlagSet, args []string, prefix string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		name := EnvName(prefix, f.Name)
		if v := getenv(name); v != "" {
			if setErr := fs.Set(f.Name, v); setErr != nil {
				err = fmt.Errorf("environment variable %s=%q: expected a value for --%s (%s): %v", name, v, f.Name, f.Usage, setErr)
			}
		}
	})
	return err
}
