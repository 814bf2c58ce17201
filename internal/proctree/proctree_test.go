package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestTreeFindsChildrenAndGrandchildren(t *testing.T) {
	// sh starts sleep as its own child, so the tree is three levels deep.
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, pid := range Children(cmd.Process.Pid) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	self := os.Getpid()
	var grandchildren []int
	deadline := time.Now().Add(10 * time.Second)
	for len(grandchildren) == 0 { // sh forks sleep shortly after starting
		if time.Now().After(deadline) {
			t.Fatalf("no child of sh (pid %d) after 10 s", cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
		grandchildren = Children(cmd.Process.Pid)
	}
	if got := Children(self); !slices.Contains(got, cmd.Process.Pid) {
		t.Errorf("Children(%d) = %v, want it to hold %d", self, got, cmd.Process.Pid)
	}
	tree := Tree(self)
	if tree[0] != self || !slices.Contains(tree, cmd.Process.Pid) || !slices.Contains(tree, grandchildren[0]) {
		t.Errorf("Tree(%d) = %v, want %d, %d and %d in it", self, tree, self, cmd.Process.Pid, grandchildren[0])
	}
	st, ok := Read(self)
	if !ok || st.RSS <= 0 || st.PPID != os.Getppid() {
		t.Errorf("Read(self) = %+v, %v; want RSS > 0 and PPID %d", st, ok, os.Getppid())
	}
}
