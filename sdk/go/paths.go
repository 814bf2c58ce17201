package sdk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-connect/ferry/sdk/go/handshake"
)

// AllowedPath checks a local path a user configured (a file to read or
// write) against the directories the worker lets connectors use, its
// ferry.allowed.paths, and returns the path to open: absolute, with
// symlinks resolved, so a link cannot lead outside. A relative path is
// taken from the worker's working directory, which plugins share.
//
// Connectors that touch local files call it on each such path when they
// validate their configuration (the error then names the key) and again
// when they open the file. Without the worker's settings (a plugin run by
// a test, say), every path is allowed.
func AllowedPath(path string) (string, error) {
	if strings.TrimSpace(path) == "" {
		return "", errors.New("must not be empty")
	}
	real, err := resolvePath(path)
	if err != nil {
		return "", err
	}
	for _, dir := range pathList(os.Getenv(handshake.EnvDeniedPaths)) {
		if within(real, dir) {
			return "", fmt.Errorf("%s is inside the worker's own data (%s), which connectors may not use", path, dir)
		}
	}
	allowed, set := os.LookupEnv(handshake.EnvAllowedPaths)
	if !set {
		return real, nil
	}
	dirs := pathList(allowed)
	for _, dir := range dirs {
		if within(real, dir) {
			return real, nil
		}
	}
	if len(dirs) == 0 {
		return "", fmt.Errorf("%s is not allowed: the worker lets connectors use no local paths (set ferry.allowed.paths in the worker's configuration)", path)
	}
	return "", fmt.Errorf("%s is outside the directories connectors may use (ferry.allowed.paths: %s)", path, strings.Join(dirs, ", "))
}

// resolvePath makes path absolute and resolves symlinks in the longest
// part of it that exists: a file a sink will create does not exist yet,
// but the directory it goes in may be a link.
func resolvePath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	dir, rest := abs, ""
	for {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("resolve %s: %w", path, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}

func pathList(v string) []string {
	var out []string
	for _, p := range filepath.SplitList(v) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
