// Package config binds a component's typed settings to command-line flags,
// REVLOOP_* environment variables and an optional config file, in that order
// of precedence, with defaults in one place.
//
// A setting named "data-dir" is the flag --data-dir, the environment variable
// REVLOOP_DATA_DIR and the key "data-dir" in a JSON config file. Unknown keys
// in the file are errors. Settings marked secret are never printed.
package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Set is the settings of one command.
type Set struct {
	fs      *flag.FlagSet
	secrets map[string]bool
	file    string
}

// NewSet returns a Set whose flags parse into fields registered by the
// String/Int/Duration/Bool methods. Every Set has --config FILE.
func NewSet(name string, output io.Writer) *Set {
	s := &Set{fs: flag.NewFlagSet(name, flag.ContinueOnError), secrets: map[string]bool{}}
	s.fs.SetOutput(output)
	s.fs.StringVar(&s.file, "config", os.Getenv("REVLOOP_CONFIG"), "JSON config file (env REVLOOP_CONFIG); flags and environment override it")
	s.fs.Usage = func() {
		fmt.Fprintf(output, "usage: revloop %s [flags]\n\nEvery flag --name can also be set as REVLOOP_NAME (dashes as underscores) or in the config file.\n\n", name)
		s.fs.PrintDefaults()
	}
	return s
}

// EnvName is the environment variable for a setting.
func EnvName(name string) string {
	return "REVLOOP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (s *Set) usage(name, usage string) string { return usage + " (env " + EnvName(name) + ")" }

// String registers a string setting.
func (s *Set) String(p *string, name, def, usage string) {
	s.fs.StringVar(p, name, def, s.usage(name, usage))
}

// Secret registers a string setting that must never be printed or logged.
func (s *Set) Secret(p *string, name, usage string) {
	s.secrets[name] = true
	s.fs.StringVar(p, name, "", s.usage(name, usage)+"; secret")
}

// Int registers an integer setting.
func (s *Set) Int(p *int, name string, def int, usage string) {
	s.fs.IntVar(p, name, def, s.usage(name, usage))
}

// Int64 registers an integer setting.
func (s *Set) Int64(p *int64, name string, def int64, usage string) {
	s.fs.Int64Var(p, name, def, s.usage(name, usage))
}

// Float registers a floating-point setting.
func (s *Set) Float(p *float64, name string, def float64, usage string) {
	s.fs.Float64Var(p, name, def, s.usage(name, usage))
}

// Duration registers a duration setting ("1s", "250ms").
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	s.fs.DurationVar(p, name, def, s.usage(name, usage))
}

// Bool registers a boolean setting.
func (s *Set) Bool(p *bool, name string, def bool, usage string) {
	s.fs.BoolVar(p, name, def, s.usage(name, usage))
}

// FlagSet exposes the underlying flags, e.g. for positional arguments.
func (s *Set) FlagSet() *flag.FlagSet { return s.fs }

// Parse applies, lowest precedence first: defaults, the config file, the
// environment, the flags. It returns flag.ErrHelp for -h.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	explicit := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if s.file != "" {
		if err := s.applyFile(s.file, explicit); err != nil {
			return err
		}
	}
	var errs []error
	s.fs.VisitAll(func(f *flag.Flag) {
		if explicit[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

func (s *Set) applyFile(path string, explicit map[string]bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var kv map[string]any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&kv); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := s.fs.Lookup(k)
		if f == nil || k == "config" {
			return fmt.Errorf("config file %s: unknown setting %q", path, k)
		}
		if explicit[k] {
			continue
		}
		if _, inEnv := os.LookupEnv(EnvName(k)); inEnv {
			continue
		}
		if err := f.Value.Set(fmt.Sprint(kv[k])); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, k, err)
		}
	}
	return nil
}

// Describe lists every setting with its current value, secrets masked, for a
// start-up log line or `--help`.
func (s *Set) Describe() map[string]string {
	out := map[string]string{}
	s.fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if s.secrets[f.Name] && v != "" {
			v = "***"
		}
		out[f.Name] = v
	})
	return out
}
