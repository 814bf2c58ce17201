package sdk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-connect/ferry/sdk/go/handshake"
)

// Regression (issue 12): through an unauthenticated REST call, a user
// without access had the worker copy /etc/shadow into a readable file. The
// file connectors now check their paths with AllowedPath.
func TestAllowedPath(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	data := filepath.Join(allowed, "ferry-data")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{allowed, data, outside} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(allowed, "link-to-secret"))
	os.Symlink(outside, filepath.Join(allowed, "link-to-outside"))
	t.Setenv(handshake.EnvAllowedPaths, allowed+string(os.PathListSeparator)+"/nonexistent")
	t.Setenv(handshake.EnvDeniedPaths, data)
	t.Chdir(allowed)
	for _, tc := range []struct {
		path  string
		ok    bool
		error string
	}{
		{filepath.Join(allowed, "in.txt"), true, ""},
		{"in.txt", true, ""}, // relative to the working directory
		{"sub/new/out.txt", true, ""},
		{filepath.Join(outside, "secret"), false, "outside the directories"},
		{"/etc/shadow", false, "ferry.allowed.paths"},
		{"../outside/secret", false, "outside"},
		{"link-to-secret", false, "outside"},
		{"link-to-outside/new.txt", false, "outside"},
		{allowed + "/../outside/secret", false, "outside"},
		{filepath.Join(data, "connectors.json"), false, "worker's own data"},
		{"  ", false, "must not be empty"},
	} {
		got, err := AllowedPath(tc.path)
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.error)) {
			t.Errorf("AllowedPath(%q) = %q, %v; want ok=%v, error containing %q", tc.path, got, err, tc.ok, tc.error)
		}
		if err == nil && !filepath.IsAbs(got) {
			t.Errorf("AllowedPath(%q) = %q, not absolute", tc.path, got)
		}
	}

	t.Setenv(handshake.EnvAllowedPaths, "")
	if _, err := AllowedPath(filepath.Join(allowed, "in.txt")); err == nil || !strings.Contains(err.Error(), "no local paths") {
		t.Errorf("with no allowed paths: %v", err)
	}
	os.Unsetenv(handshake.EnvAllowedPaths)
	if _, err := AllowedPath(filepath.Join(outside, "secret")); err != nil {
		t.Errorf("without the worker's settings: %v", err)
	}
}
