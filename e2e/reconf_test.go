//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

// switchBound bounds a validator set change's switch-over: from the CLI
// reporting the change committed at height N until every node of the new
// set has committed a block above N (about three times the worst value
// measured on 2 cores, docs/faults.md).
const switchBound = 15 * time.Second

// validatorSet is the part of GET /v1/chains/{chain}/validators the suite reads.
type validatorSet struct {
	Hash       string `json:"hash"`
	FromHeight uint64 `json:"from_height"`
	ThisNode   string `json:"this_node"`
	Validators []struct {
		Index int    `json:"index"`
		ID    string `json:"id"`
	} `json:"validators"`
}

func (c *cluster) validatorSet(i int, chainID string) (*validatorSet, error) {
	var vs validatorSet
	if _, err := c.getJSON(fmt.Sprintf("%s/v1/chains/%s/validators", c.nodes[i].api, chainID), &vs); err != nil {
		return nil, err
	}
	return &vs, nil
}

// signers returns the certificate indices of node i's block h.
func (c *cluster) signers(i int, chainID string, h uint64) ([]int, error) {
	var b struct {
		Commit []struct {
			Index int `json:"index"`
		} `json:"commit"`
	}
	if _, err := c.getJSON(fmt.Sprintf("%s/v1/chains/%s/blocks/%d", c.nodes[i].api, chainID, h), &b); err != nil {
		return nil, err
	}
	var out []int
	for _, s := range b.Commit {
		out = append(out, s.Index)
	}
	return out, nil
}

// polity runs the CLI against node i's API and returns its output.
func (c *cluster) polity(t *testing.T, i int, args ...string) string {
	t.Helper()
	args = append(args, "--url", c.nodes[i].api)
	out, err := exec.Command(polityBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("polity %v (as %s): %v\n%s", args, c.nodes[i].id, err, out)
	}
	c.logf("polity %s %s as %s: %s", args[0], args[1], c.nodes[i].id, out)
	return string(out)
}

// key is node i's key file, its validator key.
func (c *cluster) key(i int) string { return filepath.Join(c.nodes[i].home, "keys", "validator.json") }

// operator is the key file of the federation's first administrator, whose
// role lets API requests through; the valset module itself only accepts
// transactions signed by current validators.
func (c *cluster) operator() string { return filepath.Join(c.dir, "net", "operator.json") }

var (
	proposalRe = regexp.MustCompile(`proposal ([0-9a-f]{64})`)
	changedRe  = regexp.MustCompile(`certifies from height (\d+)`)
)

// change proposes op on loadChain as node `by` and has voters vote; it
// returns the height the new set certifies from, and when the CLI reported it.
func (c *cluster) change(t *testing.T, by int, voters []int, args ...string) (uint64, time.Time) {
	t.Helper()
	out := c.polity(t, by, append([]string{"valset", "propose", "--chain", loadChain, "--key", c.key(by), "--auth-key", c.operator()}, args...)...)
	m := proposalRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no proposal ID in %q", out)
	}
	for _, v := range voters {
		out = c.polity(t, v, "valset", "vote", "--chain", loadChain, "--proposal", m[1], "--key", c.key(v), "--auth-key", c.operator())
	}
	at := time.Now()
	f := changedRe.FindStringSubmatch(out)
	if f == nil {
		t.Fatalf("the last vote did not change the set: %q", out)
	}
	from, _ := strconv.ParseUint(f[1], 10, 64)
	return from, at
}

// waitThisNode waits until node i reports role (validator or follower) on
// loadChain.
func (c *cluster) waitThisNode(t *testing.T, i int, role string) {
	t.Helper()
	deadline := time.Now().Add(switchBound)
	for {
		vs, err := c.validatorSet(i, loadChain)
		if err == nil && vs.ThisNode == role {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not a %s of %s after %v (%+v, %v)", c.nodes[i].id, role, loadChain, switchBound, vs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// peerKey reads node j's public key from node i's node.json.
func (c *cluster) peerKey(t *testing.T, i, j int) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.nodes[i].home, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Peers []struct {
			ID     string `json:"id"`
			PubKey string `json:"pub_key"`
		} `json:"peers"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range cfg.Peers {
		if p.ID == c.nodes[j].id {
			return p.PubKey
		}
	}
	t.Fatalf("%s has no peer %s", c.nodes[i].id, c.nodes[j].id)
	return ""
}

// TestValidatorSetChange: four validators and a follower (node5) under
// load. Through the CLI the validators add node5 (it then signs
// certificates) and remove node1 (it becomes a follower); node1 is killed
// and the chain keeps committing with the new set.
func TestValidatorSetChange(t *testing.T) {
	if cft {
		t.Skip("Raft chains refuse validator set changes (docs/consensus.md)")
	}
	c := newClusterWith(t, 1)
	const newcomer, leaving = 4, 0
	l := warmUp(t, c)
	c.waitThisNode(t, newcomer, "follower")
	c.waitCommitAbove(t, []int{newcomer}, loadChain, c.top()-1, time.Now(), switchBound)
	c.logf("node5 follows %s at height %d", loadChain, c.top())

	from, at := c.change(t, 0, []int{1, 2}, "--op", "add", "--id", c.nodes[newcomer].id,
		"--pub-key", c.peerKey(t, 0, newcomer), "--addr", c.nodes[newcomer].p2p)
	d := c.waitCommitAbove(t, c.all(), loadChain, from, at, measureLimit)
	c.logf("SWITCH add: every node committed height %d (the first of the 5-validator set) %.2fs after the change (bound %v)", from, d.Seconds(), switchBound)
	if d > switchBound {
		t.Errorf("switch-over after adding took %.2fs; the bound is %v", d.Seconds(), switchBound)
	}
	c.waitThisNode(t, newcomer, "validator")
	for h := from; ; h++ {
		c.waitCommitAbove(t, []int{1}, loadChain, h, time.Now(), switchBound)
		sig, err := c.signers(1, loadChain, h)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(sig, 4) {
			c.logf("node5 (index 4) signs the certificate of block %d", h)
			break
		}
		if h > from+50 {
			t.Fatalf("node5 signed none of blocks %d..%d", from, h)
		}
	}

	from, at = c.change(t, 1, []int{2, 3, 4}, "--op", "remove", "--id", c.nodes[leaving].id)
	stay := without(c.all(), leaving)
	d = c.waitCommitAbove(t, stay, loadChain, from, at, measureLimit)
	c.logf("SWITCH remove: the 4 remaining validators committed height %d %.2fs after the change (bound %v)", from, d.Seconds(), switchBound)
	if d > switchBound {
		t.Errorf("switch-over after removing took %.2fs; the bound is %v", d.Seconds(), switchBound)
	}
	c.waitThisNode(t, leaving, "follower")
	out := c.polity(t, 1, "valset", "show", "--chain", loadChain)
	if !regexp.MustCompile(`quorum 3 of 4`).MatchString(out) {
		t.Errorf("valset show after the removal: %q", out)
	}

	above := c.top()
	killed := time.Now()
	c.kill(leaving)
	c.retired[leaving] = true
	c.progress(t, c.all(), killed, above, -1)
	c.check(t, l)
}
