package qemu

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/init/slotstate"
	"github.com/edgegate/edgegate/init/update"
)

var otaCutSeed = flag.Uint64("ota-powercut-seed", 0, "seed of TestOTAPowerCut's cut points (0: from the clock)")

// cutPhase is the part of an update a power cut falls in.
type cutPhase int

const (
	// cutWrite: while the bundle streams in, after a random count of its
	// bytes was sent.
	cutWrite cutPhase = iota
	// cutVerify: after the last byte was sent, before the reply: the
	// write's end, its fsync, the read-back and the switch to the trial.
	cutVerify
	// cutSwitch: just after the reply: the trial is armed and the
	// reboot about to be asked for.
	cutSwitch
	// cutReboot: during the reboot into the trial slot: init's shutdown,
	// U-Boot counting the try, the trial slot's early boot.
	cutReboot
	// cutCommit: after the trial boot's init says the slot is on trial,
	// around its commit.
	cutCommit
)

func (p cutPhase) String() string {
	return [...]string{"write", "verify", "switch", "reboot", "commit"}[p]
}

// otaCutPlan is how many cuts fall in each phase: 20 in all, more of them
// in the phases that cost less than a whole update.
var otaCutPlan = map[cutPhase]int{cutWrite: 6, cutVerify: 4, cutSwitch: 3, cutReboot: 4, cutCommit: 3}

// otaCutChains is how many gateways take the cuts at once: one per core.
const otaCutChains = 2

// switchWindow bounds a cut after the reply: the service asks init for
// the reboot about a second after it.
const switchWindow = 1500 * time.Millisecond

// firstCommitGuess is how long a trial boot is taken to need from its
// "on trial" line to its commit until a cut sees one: the slot commits
// once its update service answers its health check.
const firstCommitGuess = 4 * time.Second

var onTrialLine = regexp.MustCompile(`edgegate: slot [ab] on trial`)

const committedLine = "committed after its trial"

// TestOTAPowerCut cuts the power of a gateway at seeded random points of
// an update, spread over the write, the verify, the state switch, the
// reboot and the commit. After every cut the slot state is valid, the
// next boot reaches a committed slot holding a whole image (the old one,
// or the new one once its trial was armed), and the next update starts
// from there; after the last cut an update goes through.
func TestOTAPowerCut(t *testing.T) {
	t.Parallel() // one QEMU guest per core
	b := emulated(t)[0]
	logWallTime(t)
	seed := *otaCutSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-args -ota-powercut-seed=%d repeats its cut points)", seed, seed)
	chains := dealCuts(rand.New(rand.NewPCG(seed, 0)))
	data := otaBundle(t, b, otaBuildN1)
	otaImage(t, b, otaBuildN) // built before the chains start, once
	for i, plan := range chains {
		t.Run(fmt.Sprint("chain", i), func(t *testing.T) {
			t.Parallel()
			logWallTime(t)
			c := &cutChain{t: t, b: b, data: data, rng: rand.New(rand.NewPCG(seed, uint64(i)+1)),
				builds: map[string]uint64{"a": otaBuildN}}
			c.run(plan)
		})
	}
}

// dealCuts deals the plan's cuts to the chains: one commit cut first in
// each (its whole update measures the windows the later verify and
// reboot cuts are drawn from), then the rest shuffled.
func dealCuts(rng *rand.Rand) [][]cutPhase {
	chains := make([][]cutPhase, otaCutChains)
	var rest []cutPhase
	for p := cutWrite; p <= cutCommit; p++ {
		n := otaCutPlan[p]
		if p == cutCommit {
			for i := range chains {
				chains[i] = append(chains[i], cutCommit)
			}
			n -= otaCutChains
		}
		for range n {
			rest = append(rest, p)
		}
	}
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	for i, p := range rest {
		chains[i%otaCutChains] = append(chains[i%otaCutChains], p)
	}
	return chains
}

// cutChain is one gateway taking its share of the cuts, one update after
// another.
type cutChain struct {
	t    *testing.T
	b    boards.Board
	data []byte // the bundle pushed every time: N+1
	rng  *rand.Rand
	// builds is the build each slot holds whole, by slot name; a slot
	// being written holds none.
	builds map[string]uint64
	// verify and reboot are the last full push's windows: last byte sent
	// → reply, and reply → the trial boot's "on trial" line.
	verify, reboot time.Duration
	// commit is the trial boot's "on trial" line → its commit, as last
	// seen; a cut before the commit shows only that it takes longer.
	// Commit cuts are drawn from twice that: about half fall after it.
	commit      time.Duration
	fingerprint string // the service's, the same on every boot
}

func (c *cutChain) run(plan []cutPhase) {
	t := c.t
	d := otaDisk(t, c.b, otaBuildN)
	g := c.boot(d, slotstate.A)
	for i, phase := range plan {
		began := time.Now()
		from := g.settle(t).Active
		what := c.cut(g, phase, from)
		g = c.afterCut(d, i, phase, what, from)
		t.Logf("cut %d (%s) and the next boot took %v", i, phase, time.Since(began).Round(time.Millisecond))
	}
	from := g.settle(t).Active
	to := other(from)
	res, err := g.push(t, c.data)
	if err != nil {
		t.Fatalf("the update after the last cut: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), otaTimeout)
	defer cancel()
	st, err := g.client.WaitOutcome(ctx, res)
	if err != nil {
		t.Fatalf("the update after the last cut: %v", err)
	}
	checkRunning(t, st, c.b, to, otaBuildN1)
	powerdown(t, g.m)
	if s := loadState(t, d); string(s.Active) != to || s.TrialSlot != slotstate.NoSlot || s.Last != slotstate.Committed {
		t.Fatalf("slot state after the last update: %v", s)
	}
}

// boot starts the gateway on d and checks that U-Boot boots slot first.
func (c *cutChain) boot(d string, first slotstate.Slot) *otaGateway {
	g := startOTAGateway(c.t, c.b, d)
	if c.fingerprint == "" {
		c.fingerprint = g.fingerprint
	} else if g.fingerprint != c.fingerprint {
		c.t.Errorf("the service's certificate changed across a power cut: %s, was %s", g.fingerprint, c.fingerprint)
	}
	if !strings.Contains(g.m.Console.String(), "edgegate: booting slot "+string(first)+" from partition") {
		c.t.Fatalf("U-Boot did not boot slot %s:\n%s", first, tail(g.m.Console.String(), 6000))
	}
	return g
}

// cut pushes the bundle to g, running slot from, and cuts the power at a
// random point of phase. It returns where the cut fell.
func (c *cutChain) cut(g *otaGateway, phase cutPhase, from string) string {
	t := c.t
	c.builds[other(from)] = 0 // from now on the target is being written
	size := int64(len(c.data))
	cutAt := size + 1 // a byte count never reached: no cut while sending
	if phase == cutWrite {
		cutAt = 1 + c.rng.Int64N(size-1)
	}
	var once sync.Once
	lastByte := make(chan time.Time, 1)
	progress := func(sent, total int64) {
		if sent >= cutAt {
			once.Do(g.m.Kill)
		}
		if sent == total {
			lastByte <- time.Now()
		}
	}
	type reply struct {
		res update.Result
		err error
		at  time.Time
	}
	replied := make(chan reply, 1)
	ctx, cancel := context.WithTimeout(context.Background(), otaTimeout)
	defer cancel()
	go func() {
		res, err := g.client.Push(ctx, bytes.NewReader(c.data), size, progress)
		replied <- reply{res, err, time.Now()}
	}()
	if phase == cutWrite {
		r := <-replied
		if r.err == nil {
			t.Fatalf("the push went through the power cut after %d bytes: %+v", cutAt, r.res)
		}
		return fmt.Sprintf("%d of %d bytes sent", cutAt, size)
	}
	var sentAt time.Time
	select {
	case sentAt = <-lastByte:
	case r := <-replied:
		if r.err != nil {
			t.Fatalf("push: %v; console:\n%s", r.err, tail(g.m.Console.String(), 6000))
		}
		sentAt = <-lastByte // a reply comes after the last byte
		replied <- r
	}
	if phase == cutVerify {
		delay := c.drawUpTo(c.verify)
		time.Sleep(time.Until(sentAt.Add(delay)))
		g.m.Kill()
		return fmt.Sprintf("%v after the last byte sent (the last full push replied after %v)", delay.Round(time.Millisecond), c.verify.Round(time.Millisecond))
	}
	r := <-replied
	if r.err != nil {
		t.Fatalf("push: %v; console:\n%s", r.err, tail(g.m.Console.String(), 6000))
	}
	c.verify = r.at.Sub(sentAt)
	var delay time.Duration
	switch phase {
	case cutSwitch:
		delay = c.drawUpTo(switchWindow)
	case cutReboot:
		delay = c.drawUpTo(c.reboot)
	case cutCommit:
		return c.cutCommit(g, r.at)
	}
	time.Sleep(time.Until(r.at.Add(delay)))
	g.m.Kill()
	return fmt.Sprintf("%v after the reply", delay.Round(time.Millisecond))
}

// cutCommit cuts the power at a random instant after the trial boot's
// "on trial" line, watching the console for the commit meanwhile to learn
// how long it takes.
func (c *cutChain) cutCommit(g *otaGateway, replied time.Time) string {
	if _, err := g.m.Console.Expect(onTrialLine, bootTimeout); err != nil {
		c.t.Fatal(err)
	}
	onTrial := time.Now()
	c.reboot = onTrial.Sub(replied)
	if c.commit == 0 {
		c.commit = firstCommitGuess
	}
	delay := c.drawUpTo(2 * c.commit)
	before := strings.Count(g.m.Console.String(), committedLine)
	var committed time.Duration
	for time.Since(onTrial) < delay {
		if committed == 0 && strings.Count(g.m.Console.String(), committedLine) > before {
			committed = time.Since(onTrial)
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.m.Kill()
	if committed > 0 {
		c.commit = committed
	} else {
		c.commit = max(c.commit, delay)
	}
	return fmt.Sprintf("%v after the trial boot's on-trial line (commit seen after: %v)", delay.Round(time.Millisecond), committed.Round(time.Millisecond))
}

// drawUpTo is a random duration in [0, d), or 0 when no window was
// measured yet.
func (c *cutChain) drawUpTo(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(c.rng.Int64N(int64(d)))
}

// afterCut checks the slot state the cut left on d, boots the gateway
// again and requires it to reach the committed slot that state leads to,
// with a whole image in it.
func (c *cutChain) afterCut(d string, i int, phase cutPhase, what, from string) *otaGateway {
	t := c.t
	pair := readPair(t, d)
	st, err := pair.State()
	if err != nil {
		t.Fatalf("cut %d (%s, %s): %v", i, phase, what, err)
	}
	to := slotstate.Slot(other(from))
	armed := st.Active == slotstate.Slot(from) && st.TrialSlot == to
	var want slotstate.Slot
	switch {
	case st.Active == slotstate.Slot(from) && st.TrialSlot == slotstate.NoSlot && phase <= cutVerify:
		want = st.Active // nothing switched: the update never reached its trial
	case armed && st.TriesLeft == 1 && st.Last == slotstate.Armed && phase >= cutVerify:
		want = to // armed: the next boot is its trial, and it is healthy
	case armed && st.TriesLeft == 0 && st.Last == slotstate.Tried && phase >= cutVerify:
		want = slotstate.Slot(from) // cut in its trial before the commit: the next boot falls back
	case st.Active == to && st.TrialSlot == slotstate.NoSlot && st.Last == slotstate.Committed && phase >= cutVerify:
		want = to
	default:
		t.Fatalf("cut %d (%s, %s): slot state %v (copies: %v, %v), not one the cut can leave while slot %s ran",
			i, phase, what, st, pair.Errs[0], pair.Errs[1], from)
	}
	bootSlot, _, _ := st.Boot()
	t.Logf("cut %d (%s, %s): %v (copy errors: %v, %v); the next boot starts slot %s and settles on slot %s",
		i, phase, what, st, pair.Errs[0], pair.Errs[1], bootSlot, want)
	if want == to {
		c.builds[string(to)] = otaBuildN1
	}
	g := c.boot(d, bootSlot)
	checkRunning(t, g.settle(t), c.b, string(want), c.builds[string(want)])
	return g
}

// other is the slot an update writes while slot runs.
func other(slot string) string {
	return string(slotstate.Slot(slot).Other())
}
