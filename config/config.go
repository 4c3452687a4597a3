// Package config reads Strata's configuration file: the backends, the
// buckets mapped onto them and the default backend, and opens the
// namespace they make. docs/config.md documents every key.
//
//	backends:
//	  archive: {type: azure, account: acme, key: ${AZURE_KEY}}
//	  nas:     {type: dir, path: /mnt/nas}
//	buckets:
//	  invoices: {backend: archive, container: invoices}
//	default: nas
package config

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/strata-storage/strata/backends"
	"github.com/strata-storage/strata/gateway"
)

// A backendType knows one kind of backend: the shape of its configuration
// and how to open it.
type backendType struct {
	// config returns a pointer to a new, zero configuration struct whose
	// fields carry yaml tags.
	config func() any
	open   func(ctx context.Context, cfg any) (backends.Backend, error)
}

var types = map[string]backendType{}

// register adds a backend type; each backend's file in this package calls
// it from init.
func register(name string, t backendType) { types[name] = t }

// Config is a parsed configuration file.
type Config struct {
	Backends map[string]Backend
	Buckets  map[string]gateway.Mount
	Default  string
}

// Backend is one configured backend.
type Backend struct {
	Type   string
	Config any // the type's configuration struct, filled
	Line   int
}

// lineError is an error about a place in the file.
func lineError(path string, n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", path, n.Line, fmt.Sprintf(format, args...))
}

// Load reads and validates the file at path. Values may take
// ${VAR} from the environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads a configuration from data; path names it in errors.
func Parse(path string, data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty", path)
	}
	root := doc.Content[0]
	if err := expandEnv(path, root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, lineError(path, root, "expected a mapping with backends, buckets and default")
	}
	cfg := &Config{Backends: map[string]Backend{}, Buckets: map[string]gateway.Mount{}}
	var defNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "backends":
			if err := parseBackends(path, v, cfg); err != nil {
				return nil, err
			}
		case "buckets":
			if err := parseBuckets(path, v, cfg); err != nil {
				return nil, err
			}
		case "default":
			if v.Kind != yaml.ScalarNode {
				return nil, lineError(path, v, "default: expected the name of a backend")
			}
			cfg.Default, defNode = v.Value, v
		default:
			return nil, lineError(path, k, "unknown key %q (expected backends, buckets or default)", k.Value)
		}
	}
	if len(cfg.Backends) == 0 {
		return nil, fmt.Errorf("%s: no backends are configured", path)
	}
	if defNode != nil {
		if _, ok := cfg.Backends[cfg.Default]; !ok {
			return nil, lineError(path, defNode, "default: no backend named %q", cfg.Default)
		}
	}
	if cfg.Default == "" && len(cfg.Buckets) == 0 {
		return nil, fmt.Errorf("%s: neither buckets nor a default backend: nothing would be served", path)
	}
	return cfg, nil
}

func parseBackends(path string, n *yaml.Node, cfg *Config) error {
	if n.Kind != yaml.MappingNode {
		return lineError(path, n, "backends: expected a mapping of names to backends")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, body := n.Content[i], n.Content[i+1]
		if _, dup := cfg.Backends[name.Value]; dup {
			return lineError(path, name, "backend %q is defined twice", name.Value)
		}
		if body.Kind != yaml.MappingNode {
			return lineError(path, body, "backend %q: expected a mapping with a type", name.Value)
		}
		var typ *yaml.Node
		rest := &yaml.Node{Kind: yaml.MappingNode, Line: body.Line, Column: body.Column}
		for j := 0; j+1 < len(body.Content); j += 2 {
			if body.Content[j].Value == "type" {
				typ = body.Content[j+1]
				continue
			}
			rest.Content = append(rest.Content, body.Content[j], body.Content[j+1])
		}
		if typ == nil {
			return lineError(path, body, "backend %q: type is missing (one of %s)", name.Value, typeNames())
		}
		bt, ok := types[typ.Value]
		if !ok {
			return lineError(path, typ, "backend %q: unknown type %q (one of %s)", name.Value, typ.Value, typeNames())
		}
		c := bt.config()
		if err := checkKeys(path, rest, c, "backend "+name.Value); err != nil {
			return err
		}
		if err := rest.Decode(c); err != nil {
			return fmt.Errorf("%s: backend %q: %w", path, name.Value, err)
		}
		cfg.Backends[name.Value] = Backend{Type: typ.Value, Config: c, Line: name.Line}
	}
	return nil
}

type bucketSpec struct {
	Backend   string `yaml:"backend"`
	Bucket    string `yaml:"bucket"`
	Container string `yaml:"container"`
	Prefix    string `yaml:"prefix"`
}

func parseBuckets(path string, n *yaml.Node, cfg *Config) error {
	if n.Kind != yaml.MappingNode {
		return lineError(path, n, "buckets: expected a mapping of bucket names to their backend")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, body := n.Content[i], n.Content[i+1]
		if !backends.ValidBucketName(name.Value) {
			return lineError(path, name, "bucket %q: not a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)", name.Value)
		}
		if _, dup := cfg.Buckets[name.Value]; dup {
			return lineError(path, name, "bucket %q is defined twice", name.Value)
		}
		var spec bucketSpec
		if err := checkKeys(path, body, &spec, "bucket "+name.Value); err != nil {
			return err
		}
		if err := body.Decode(&spec); err != nil {
			return fmt.Errorf("%s: bucket %q: %w", path, name.Value, err)
		}
		if _, ok := cfg.Backends[spec.Backend]; !ok {
			if spec.Backend == "" {
				return lineError(path, body, "bucket %q: backend is missing", name.Value)
			}
			return lineError(path, body, "bucket %q: no backend named %q (backends must come before buckets)", name.Value, spec.Backend)
		}
		if spec.Bucket != "" && spec.Container != "" {
			return lineError(path, body, "bucket %q: give bucket or container, not both", name.Value)
		}
		remote := spec.Bucket + spec.Container
		if remote == "" {
			remote = name.Value
		}
		prefix := strings.TrimPrefix(spec.Prefix, "/")
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		if err := backends.CheckKey(prefix + "x"); err != nil && prefix != "" {
			return lineError(path, body, "bucket %q: prefix %q: %v", name.Value, spec.Prefix, err)
		}
		cfg.Buckets[name.Value] = gateway.Mount{Backend: spec.Backend, Remote: remote, Prefix: prefix}
	}
	return nil
}

// checkKeys refuses keys that the struct v has no yaml tag for, naming
// the line and the keys it knows: a typo must not be ignored.
func checkKeys(path string, n *yaml.Node, v any, what string) error {
	if n.Kind != yaml.MappingNode {
		return lineError(path, n, "%s: expected a mapping", what)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			known[tag] = true
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !known[k.Value] {
			var names []string
			for name := range known {
				names = append(names, name)
			}
			sort.Strings(names)
			return lineError(path, k, "%s: unknown key %q (known: type, %s)", what, k.Value, strings.Join(names, ", "))
		}
	}
	return nil
}

func typeNames() string {
	var names []string
	for name := range types {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// expandEnv replaces ${VAR} in every scalar value with the variable's
// value; an unset variable is an error naming the line. "$$" stands for a
// literal "$"; any other "$" is kept as it is.
func expandEnv(path string, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		v, err := expand(n.Value)
		if err != nil {
			return lineError(path, n, "%v", err)
		}
		n.Value = v
	}
	for _, c := range n.Content {
		if err := expandEnv(path, c); err != nil {
			return err
		}
	}
	return nil
}

func expand(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in %q", s)
			}
			name := s[i+2 : i+end]
			val, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set", name)
			}
			b.WriteString(val)
			i += end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// Open reads the file at path and opens every backend it names, returning
// the namespace over them.
func Open(ctx context.Context, path string) (*gateway.Namespace, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, err
	}
	return cfg.Open(ctx)
}

// Open opens the configured backends and returns the namespace over them.
func (c *Config) Open(ctx context.Context) (*gateway.Namespace, error) {
	opened := map[string]backends.Backend{}
	closeAll := func() {
		for _, b := range opened {
			if cl, ok := b.(interface{ Close() error }); ok {
				cl.Close()
			}
		}
	}
	names := make([]string, 0, len(c.Backends))
	for name := range c.Backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		be, err := c.OpenBackend(ctx, name)
		if err != nil {
			closeAll()
			return nil, err
		}
		opened[name] = be
	}
	ns, err := gateway.NewNamespace(opened, c.Buckets, c.Default)
	if err != nil {
		closeAll()
		return nil, err
	}
	return ns, nil
}

// OpenBackend opens the one backend called name.
func (c *Config) OpenBackend(ctx context.Context, name string) (backends.Backend, error) {
	b, ok := c.Backends[name]
	if !ok {
		return nil, fmt.Errorf("no backend %q in the configuration", name)
	}
	be, err := types[b.Type].open(ctx, b.Config)
	if err != nil {
		return nil, fmt.Errorf("backend %q (%s): %w", name, b.Type, err)
	}
	return be, nil
}
