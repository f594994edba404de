package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/update"
)

// gatewayFlags are the flags every command talking to a gateway takes.
type gatewayFlags struct {
	target, key, known, fingerprint *string
}

func addGatewayFlags(fs *pflag.FlagSet) gatewayFlags {
	return gatewayFlags{
		target:      fs.String("target", "", "gateway to talk to: HOST or HOST:PORT (default port 8443) (required)"),
		key:         fs.String("key", "", "operator private key ('edgegate ota keygen'; its public key given to 'edgegate build --ota-client') (required)"),
		known:       fs.String("known-gateways", "", "trust-on-first-use file of gateway certificates (default $XDG_CONFIG_HOME/edgegate/known_gateways)"),
		fingerprint: fs.String("fingerprint", "", "pin the gateway's certificate: sha256 hex, as its log prints it (then the known gateways file is not used)"),
	}
}

// client makes the update client the flags describe.
func (g gatewayFlags) client(noReboot bool) (*update.Client, error) {
	if *g.target == "" {
		return nil, fmt.Errorf("--target is required")
	}
	if *g.key == "" {
		return nil, fmt.Errorf("--key is required")
	}
	raw, err := os.ReadFile(*g.key)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	key, err := bundle.ParsePrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", *g.key, err)
	}
	known := *g.known
	if known == "" && *g.fingerprint == "" {
		if known, err = update.DefaultKnownGateways(); err != nil {
			return nil, err
		}
	}
	return update.NewClient(*g.target, update.ClientOptions{Key: key, KnownGateways: known, Fingerprint: *g.fingerprint, NoReboot: noReboot})
}

// runPush streams a bundle to a gateway and waits for its outcome.
func runPush(ctx context.Context, args []string) error {
	fs := flagSet("ota push")
	gw := addGatewayFlags(fs)
	wait := fs.Duration("wait", 10*time.Minute, "wait this long for the gateway to boot the update and commit it (0: do not wait)")
	noReboot := fs.Bool("no-reboot", false, "do not reboot the gateway: the update is tried at its next boot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: edgegate ota push --target HOST --key KEY [flags] X.bundle")
	}
	c, err := gw.client(*noReboot)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	bar := newProgressBar(os.Stderr, isTerminal(os.Stderr), time.Now)
	res, err := c.Push(ctx, f, st.Size(), bar.update)
	if err != nil {
		return err
	}
	return outcome(ctx, c, res, *wait)
}

// runPull has a gateway fetch a bundle itself.
func runPull(ctx context.Context, args []string) error {
	fs := flagSet("ota pull")
	gw := addGatewayFlags(fs)
	wait := fs.Duration("wait", 10*time.Minute, "wait this long for the gateway to boot the update and commit it (0: do not wait)")
	noReboot := fs.Bool("no-reboot", false, "do not reboot the gateway: the update is tried at its next boot")
	sourceFP := fs.String("source-fingerprint", "", "pin the https source's certificate (sha256 hex) instead of the gateway's CA roots")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: edgegate ota pull --target HOST --key KEY [flags] URL")
	}
	c, err := gw.client(*noReboot)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "the gateway is fetching %s\n", fs.Arg(0))
	res, err := c.PullPinned(ctx, fs.Arg(0), *sourceFP)
	if err != nil {
		return err
	}
	return outcome(ctx, c, res, *wait)
}

// outcome prints the result of an update and, with a wait, what became
// of it across the reboot.
func outcome(ctx context.Context, c *update.Client, res update.Result, wait time.Duration) error {
	fmt.Printf("slot %s holds %s %s (build %d, %d bytes received), on trial\n", res.Slot, res.Board, res.Version, res.Build, res.Bytes)
	switch {
	case !res.Reboot:
		fmt.Println("the gateway tries it at its next boot")
		return nil
	case wait <= 0:
		fmt.Println("the gateway reboots into it")
		return nil
	}
	fmt.Fprintf(os.Stderr, "the gateway reboots into slot %s; waiting up to %v for it to commit\n", res.Slot, wait)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	st, err := c.WaitOutcome(ctx, res)
	if err != nil {
		return err
	}
	fmt.Printf("committed: slot %s runs version %s (build %d)\n", st.Running, st.Version, st.Build)
	return nil
}

// runStatus prints a gateway's update status.
func runStatus(ctx context.Context, args []string) error {
	fs := flagSet("ota status")
	gw := addGatewayFlags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("usage: edgegate ota status --target HOST --key KEY [--json]")
	}
	c, err := gw.client(false)
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Print(statusText(*gw.target, st))
	return nil
}
