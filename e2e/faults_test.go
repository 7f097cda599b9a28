//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Recovery bounds (check 4): resume* from the end of the fault until every
// node has committed a block above the highest one any node had when it
// ended; catchUp* until all nodes stand at one such height. Each is about
// three times the worst value measured on 2 cores (docs/faults.md has the
// measurements), and at least 5 s: polling, process start and TLS
// handshakes alone take up to a second.
const (
	resumeKillFollower, catchUpKillFollower       = 16 * time.Second, 20 * time.Second
	resumeKillLeader, catchUpKillLeader           = 5 * time.Second, 5 * time.Second
	resumePauseLeader, catchUpPauseLeader         = 31 * time.Second, 31 * time.Second
	resumePauseFollower, catchUpPauseFollower     = 50 * time.Second, 50 * time.Second
	resumeIsolateLeader, catchUpIsolateLeader     = 50 * time.Second, 50 * time.Second
	resumeIsolateFollower, catchUpIsolateFollower = 50 * time.Second, 50 * time.Second
	resumeSplit, catchUpSplit                     = 27 * time.Second, 27 * time.Second
	resumeColdRestart, catchUpColdRestart         = 40 * time.Second, 40 * time.Second
	resumeWAL, catchUpWAL                         = 5 * time.Second, 5 * time.Second
	resumeLostDisk, catchUpLostDisk               = 6 * time.Second, 6 * time.Second

	// The isolation and follower pause bounds cover the SmartBFT
	// watchdog's path (StuckAfter 30 s, then a sync and a restart of the
	// instance): one follower pause run in 39 took it (45 s), and one
	// isolated leader in the session's last suite run (40.7 s; docs/faults.md,
	// bug 1).

	// Raft (E2E_CFT=1): a killed leader's restart took up to 6.7 s (3
	// runs on a loaded VM), more than SmartBFT's; the other scenarios
	// stayed within the BFT bounds (docs/faults.md).
	resumeKillLeaderRaft, catchUpKillLeaderRaft = 20 * time.Second, 20 * time.Second
)

// progressLimit bounds how long the three remaining nodes may take to
// commit again while one node is faulty (a view change when it was the
// leader). It is a liveness check with a generous limit, not a measured
// bound.
const progressLimit = 90 * time.Second

// measureLimit is how long a recovery is waited for before giving up; it
// is longer than every bound so an overrun is reported with its value.
const measureLimit = 3 * time.Minute

// warmUp starts the load and waits until it has some acknowledged
// transactions.
func warmUp(t *testing.T, c *cluster) *load {
	t.Helper()
	l := c.startLoad(t, workersPerChain)
	l.waitAcks(t, 0, 20, 60*time.Second)
	c.logf("warm: %d acknowledged", l.count())
	return l
}

// progress asserts the nodes of idx keep committing while a fault lasts:
// two blocks above the highest one when it began (one may have been in
// flight, decided before the fault). If the faulty node was the leader,
// the new blocks must come from another. It returns the time since `from`.
func (c *cluster) progress(t *testing.T, idx []int, from time.Time, above uint64, oldLeader int) time.Duration {
	t.Helper()
	d := c.waitCommitAbove(t, idx, loadChain, above+1, from, progressLimit)
	c.logf("PROGRESS %s: %s committed above %d %.2fs into the fault", t.Name(), c.ids(idx), above+1, d.Seconds())
	if oldLeader >= 0 {
		if nl := c.leader(t, loadChain); nl == oldLeader {
			t.Fatalf("blocks after the fault are still proposed by the faulty leader %s", c.nodes[oldLeader].id)
		} else {
			c.logf("new leader %s", c.nodes[nl].id)
		}
	}
	return d
}

// recovered asserts the recovery bounds from healAt, the end of the fault, with
// `above` the highest block any node had then. It measures two times:
// resumed, until every node has committed a block above `above` (the next
// commit, seen on all nodes), and caught up, until all nodes stand at one
// height above `above` (the healed node follows again rather than having
// committed once and stalled). Each must be within its bound.
func (c *cluster) recovered(t *testing.T, healAt time.Time, above uint64, resumeBound, catchUpBound time.Duration) {
	t.Helper()
	c.logf("fault ended; highest %s block %d", loadChain, above)
	resumed, caught := c.waitRecovery(t, loadChain, above, healAt, measureLimit)
	c.logf("RECOVERY %s resumed %.2fs (bound %v) caught-up %.2fs (bound %v)", t.Name(), resumed.Seconds(), resumeBound, caught.Seconds(), catchUpBound)
	if resumed > resumeBound {
		t.Errorf("commits resumed on every node %.2fs after the fault ended; the bound is %v", resumed.Seconds(), resumeBound)
	}
	if caught > catchUpBound {
		t.Errorf("the nodes stood at one height %.2fs after the fault ended; the bound is %v", caught.Seconds(), catchUpBound)
	}
}

// top is the highest height of the load chain on any answering node.
func (c *cluster) top() uint64 { return maxOf(c.heights(c.all(), loadChain)) }

// TestKillFollower: SIGKILL a follower under load; the other three keep
// committing; restarted with the same home it catches up.
func TestKillFollower(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	lead := c.leader(t, loadChain)
	v := c.follower(lead)
	above, at := c.top(), time.Now()
	c.kill(v)
	c.progress(t, without(c.all(), v), at, above, -1)
	time.Sleep(time.Until(at.Add(8 * time.Second))) // let it fall behind
	above = c.top()
	heal := time.Now()
	c.restart(v)
	c.recovered(t, heal, above, resumeKillFollower, catchUpKillFollower)
	c.check(t, l)
}

// TestLostDisk: a follower loses its disk under load; it restores every
// chain from another node's state snapshot (verified against its own
// genesis) with `polity snapshot restore`, restarts and catches up by
// sync from the snapshot's height.
func TestLostDisk(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	lead := c.leader(t, loadChain)
	v := c.follower(lead)
	src := c.follower(lead, v)
	above, at := c.top(), time.Now()
	c.kill(v)
	c.progress(t, without(c.all(), v), at, above, -1)
	p := c.nodes[v]
	if err := os.RemoveAll(filepath.Join(p.home, "chains")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(polityBin, "snapshot", "restore", "--url", c.nodes[src].api, "--home", p.home,
		"--auth-key", filepath.Join(c.dir, "net", "operator.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("polity snapshot restore: %v\n%s", err, out)
	}
	c.logf("restored %s from %s: %s", p.id, c.nodes[src].id, strings.TrimSpace(string(out)))
	p.base = map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var chainID string
		var h uint64
		if _, err := fmt.Sscanf(line, "%s restored at height %d", &chainID, &h); err != nil {
			t.Fatalf("restore output %q: %v", line, err)
		}
		p.base[strings.TrimSuffix(chainID, ":")] = h
	}
	if p.base[loadChain] <= above {
		t.Fatalf("%s restored at %d, not above %d", loadChain, p.base[loadChain], above)
	}
	above = c.top()
	heal := time.Now()
	c.restart(v)
	c.recovered(t, heal, above, resumeLostDisk, catchUpLostDisk)
	c.check(t, l)
}

// TestKillLeader: SIGKILL the leader under load; the others change view
// and keep committing; the old leader restarts and catches up.
func TestKillLeader(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	lead := c.leader(t, loadChain)
	c.logf("leader is %s", c.nodes[lead].id)
	above, at := c.top(), time.Now()
	c.kill(lead)
	c.progress(t, without(c.all(), lead), at, above, lead)
	time.Sleep(2 * time.Second)
	above = c.top()
	heal := time.Now()
	c.restart(lead)
	if cft {
		c.recovered(t, heal, above, resumeKillLeaderRaft, catchUpKillLeaderRaft)
	} else {
		c.recovered(t, heal, above, resumeKillLeader, catchUpKillLeader)
	}
	c.check(t, l)
}

// TestPauseLeader: SIGSTOP the leader (a long GC pause, a hung VM) until
// the others have changed view, then SIGCONT it: it must follow the new
// view, not fork.
func TestPauseLeader(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	lead := c.leader(t, loadChain)
	above, at := c.top(), time.Now()
	c.nodes[lead].pause()
	c.logf("SIGSTOP %s (leader)", c.nodes[lead].id)
	c.progress(t, without(c.all(), lead), at, above, lead)
	time.Sleep(2 * time.Second)
	above = c.top()
	heal := time.Now()
	c.nodes[lead].resume()
	c.logf("SIGCONT %s", c.nodes[lead].id)
	c.recovered(t, heal, above, resumePauseLeader, catchUpPauseLeader)
	c.check(t, l)
}

// TestPauseFollower: SIGSTOP a follower for 15 s, longer than the 10 s
// heartbeat timeout (its connections stay open; the kernel buffers what
// its peers send), then SIGCONT it: it catches up.
func TestPauseFollower(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	v := c.follower(c.leader(t, loadChain))
	above, at := c.top(), time.Now()
	c.nodes[v].pause()
	c.logf("SIGSTOP %s (follower)", c.nodes[v].id)
	c.progress(t, without(c.all(), v), at, above, -1)
	time.Sleep(time.Until(at.Add(15 * time.Second)))
	above = c.top()
	heal := time.Now()
	c.nodes[v].resume()
	c.logf("SIGCONT %s", c.nodes[v].id)
	c.recovered(t, heal, above, resumePauseFollower, catchUpPauseFollower)
	c.check(t, l)
}

// TestIsolateLeader: cut every link of the leader; the others change view
// and continue; after the links heal the old leader rejoins.
func TestIsolateLeader(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	lead := c.leader(t, loadChain)
	above, at := c.top(), time.Now()
	c.isolate(lead, true)
	c.progress(t, without(c.all(), lead), at, above, lead)
	time.Sleep(2 * time.Second)
	above = c.top()
	heal := time.Now()
	c.isolate(lead, false)
	c.recovered(t, heal, above, resumeIsolateLeader, catchUpIsolateLeader)
	c.check(t, l)
}

// TestIsolateFollower: cut every link of a follower; the others continue;
// after the links heal it catches up.
func TestIsolateFollower(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	v := c.follower(c.leader(t, loadChain))
	above, at := c.top(), time.Now()
	c.isolate(v, true)
	c.progress(t, without(c.all(), v), at, above, -1)
	time.Sleep(time.Until(at.Add(8 * time.Second)))
	above = c.top()
	heal := time.Now()
	c.isolate(v, false)
	c.recovered(t, heal, above, resumeIsolateFollower, catchUpIsolateFollower)
	c.check(t, l)
}

// splitHold is how long the 2–2 split lasts: longer than the view-change
// timeout, so both halves try (and fail) to change view.
const splitHold = 15 * time.Second

// TestSplit: a 2–2 partition has no quorum (2f+1 = 3): no node commits
// beyond what it had plus the one block that may have been in flight, and
// no fork; after healing, commits resume.
func TestSplit(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	lead := c.leader(t, loadChain)
	a := []int{lead, c.follower(lead)}
	b := without(c.all(), a...)
	c.cutBetween(a, b, true)
	c.logf("split %s | %s", c.ids(a), c.ids(b))
	atCut := c.heights(c.all(), loadChain)
	ceiling := maxOf(atCut) + 1
	acked := l.count()
	end := time.Now().Add(splitHold)
	var last map[int]uint64
	for time.Now().Before(end) {
		last = c.heights(c.all(), loadChain)
		for i, h := range last {
			if h > ceiling {
				t.Errorf("%s reached height %d during the split; heights at the cut %v allow at most %d", c.nodes[i].id, h, c.named(atCut), ceiling)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	c.logf("during the split: heights at the cut %v, at the end %v; %d transactions acknowledged during it", c.named(atCut), c.named(last), l.count()-acked)
	above := c.top()
	heal := time.Now()
	c.cutBetween(a, b, false)
	c.logf("healed the split")
	c.recovered(t, heal, above, resumeSplit, catchUpSplit)
	c.check(t, l)
}

// TestColdRestart: SIGKILL every node under load, then start them all
// again: every acknowledged transaction survives and ordering resumes.
func TestColdRestart(t *testing.T) {
	c := newCluster(t)
	l := warmUp(t, c)
	above := c.top()
	for i := range c.nodes {
		c.kill(i)
	}
	time.Sleep(time.Second)
	heal := time.Now()
	for i := range c.nodes {
		c.restart(i)
	}
	c.recovered(t, heal, above, resumeColdRestart, catchUpColdRestart)
	c.check(t, l)
}

// TestWALTail: SIGKILL a follower, damage the tail of its newest health WAL
// file — cut in the middle of the last record (a torn write), or one byte
// of the last record flipped — and restart it: SmartBFT must detect and
// repair the tail, the node start, catch up and never fork.
func TestWALTail(t *testing.T) {
	if cft {
		t.Skip("the WAL damaged here is SmartBFT's; a Raft chain keeps its log in Pebble (chain/ledger/raftlog crash tests)")
	}
	for _, tc := range []struct {
		name   string
		damage func(home string) (string, error)
	}{
		{"truncated", func(home string) (string, error) {
			path, n, err := tearWALTail(home, loadChain)
			return "cut the last " + strconv.Itoa(n) + " bytes of " + path, err
		}},
		{"flipped", func(home string) (string, error) {
			path, at, err := flipWALTail(home, loadChain)
			return "flipped byte " + strconv.Itoa(at) + " of " + path, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			l := warmUp(t, c)
			v := c.follower(c.leader(t, loadChain))
			c.kill(v)
			what, err := tc.damage(c.nodes[v].home)
			if err != nil {
				t.Fatal(err)
			}
			c.logf("%s", what)
			above := c.top()
			heal := time.Now()
			c.restart(v)
			c.nodes[v].waitReady(t, 30*time.Second)
			c.recovered(t, heal, above, resumeWAL, catchUpWAL)
			// The damage must have been seen (else the test tested nothing).
			if log := tail(c.nodes[v].logPath, 1<<20); !strings.Contains(log[strings.LastIndex(log, "==== start"):], "possibly be repaired") {
				t.Errorf("%s's log does not show the WAL repair after the restart", c.nodes[v].id)
			}
			c.check(t, l)
		})
	}
}
