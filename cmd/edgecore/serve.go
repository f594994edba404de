package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/edged"
	"github.com/edgegate/edgegate/edgecore/edgehub"
	"github.com/edgegate/edgegate/edgecore/metamanager"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
	"github.com/edgegate/edgegate/init/atomicfile"
	"github.com/edgegate/edgegate/init/clock"
)

// serve loads the configuration, opens the store, registers every module
// and runs until a shutdown signal.
func serve(o options) error {
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	// A corrupt store would stop edgecore at every start, and a gateway has
	// no shell to repair it: it is moved aside and the node starts empty,
	// reporting it (nodestatus' StoreReset condition).
	db, err := dbm.Open(cfg.Database.DataSource, dbm.Options{ResetCorrupt: true})
	if err != nil {
		return err
	}
	c := core.New()
	ed, hub, err := registerModules(c, cfg, db, hubOptions(o))
	if err != nil {
		_ = db.Close()
		return err
	}
	if o.inspectSocket != "" {
		s, err := startInspect(o.inspectSocket, c.Bus(), ed, c.HealthHandler(), cloudHandler(hub.Enable(), hub.Connected))
		if err != nil {
			_ = db.Close()
			return err
		}
		defer s.close()
	}
	return runCore(c, db)
}

// loadConfig loads the configuration file, records this version in it and
// takes the join token from the bootstrap file when keadm left one.
func loadConfig(o options) (*config.EdgeCoreConfig, error) {
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return nil, err
	}
	klog.Infof("configuration %s loaded; node %s, store %s", o.configPath, cfg.NodeName(), cfg.Database.DataSource)
	if len(cfg.IgnoredFields) > 0 {
		klog.Infof("configuration: %d KubeEdge fields edgegate does not use are ignored: %s", len(cfg.IgnoredFields), strings.Join(cfg.IgnoredFields, ", "))
	}
	recordVersion(o.configPath, cfg)
	fromFile, err := cfg.ApplyBootstrapFile(o.bootstrapFile)
	if err != nil {
		return nil, err
	}
	if fromFile {
		klog.Infof("join token read from %s (overrides modules.edgeHub.token)", o.bootstrapFile)
	}
	return cfg, nil
}

// recordVersion writes this binary's version into edgecoreVersion, as
// KubeEdge's edgecore does on start. A configuration that cannot be
// written (read-only) is not a reason to stop.
func recordVersion(path string, cfg *config.EdgeCoreConfig) {
	if cfg.EdgeCoreVersion == version {
		return
	}
	if err := config.SetFields(path, map[string]string{"edgecoreVersion": version}); err != nil {
		klog.Warningf("recording edgecoreVersion %s: %v", version, err)
		return
	}
	klog.Infof("edgecoreVersion %s recorded in %s (was %q)", version, path, cfg.EdgeCoreVersion)
	cfg.EdgeCoreVersion = version
}

// hubOptions are edgehub's hooks into the process: erasing the used token
// and, with --correct-clock, setting the system clock from the cloud's
// time when it is behind.
func hubOptions(o options) []edgehub.Option {
	opts := []edgehub.Option{edgehub.WithTokenUsed(tokenUsed(o))}
	if o.correctClock {
		opts = append(opts, edgehub.WithClockSetter(clock.SetSystemClock))
	}
	return opts
}

// tokenUsed returns what runs once the join token has bought a
// certificate (stored durably by then): the token is cleared from the
// configuration file and the bootstrap file, if the token came from there,
// is removed, durably, so a power cut cannot bring the secret back.
func tokenUsed(o options) func() error {
	return func() error {
		err := edgehub.ClearToken(o.configPath)
		_, statErr := os.Stat(o.bootstrapFile)
		if rmErr := atomicfile.Remove(o.bootstrapFile); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove used bootstrap token: %w", rmErr))
		} else if statErr == nil {
			klog.Infof("join token used; %s erased", o.bootstrapFile)
		}
		return err
	}
}

// runCore runs the modules until a shutdown signal, then closes the store.
func runCore(c *core.Core, db *dbm.DB) error {
	runErr := c.Run(context.Background())
	if errors.Is(runErr, core.ErrModulesStuck) {
		// A stuck module may hold a transaction open, and Close would
		// wait for it forever. Every commit is already on disk; the
		// process exit releases the file lock.
		return fmt.Errorf("%w; exiting without closing the store", runErr)
	}
	if err := db.Close(); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// registerModules registers the seven modules in KubeEdge's order. Modules
// this release does not ship are registered as disabled and say so; edged
// records desired pods only and is returned for inspection, with edgehub.
func registerModules(c *core.Core, cfg *config.EdgeCoreConfig, db *dbm.DB, hubOpts []edgehub.Option) (*edged.Module, *edgehub.EdgeHub, error) {
	m := cfg.Modules
	c.Register(unimplemented(model.TwinModuleName, model.TwinGroup, m.DeviceTwin != nil && m.DeviceTwin.Enable))
	store, err := metamanager.NewStore(db)
	if err != nil {
		return nil, nil, fmt.Errorf("metamanager store: %w", err)
	}
	ed := edged.New(edgedConfig(cfg, metamanager.NewClient(store, c.Bus(), model.EdgedModuleName, 10*time.Second)), c.Bus())
	c.Register(ed)

	hubCfg, err := edgehub.FromConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	// The cloud link sends through the shedding view: a module that stops
	// reading makes it wait a bounded time, then drop (the cloud resends),
	// never stall the link or grow memory.
	hub, err := edgehub.New(hubCfg, c.Bus().Shedding(0), db, hubOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("edgehub: %w", err)
	}
	c.Register(hub)

	c.Register(unimplemented(model.EventBusModuleName, model.BusGroup, m.EventBus != nil && m.EventBus.Enable))
	c.Register(unimplemented(model.EdgeMeshModuleName, model.MeshGroup, m.EdgeMesh != nil && m.EdgeMesh.Enable))

	mm, err := metamanager.New(metaManagerConfig(m.MetaManager), c.Bus(), db)
	if err != nil {
		return nil, nil, fmt.Errorf("metamanager: %w", err)
	}
	c.Register(mm)
	ed.SetCloudConnected(mm.Connected)
	ns := nodeStatusConfig(cfg)
	if ed.Enable() {
		ns.Readiness = ed.Readiness
	}
	c.Register(nodestatus.New(ns, c.Bus()))

	c.Register(unimplemented(model.ServiceBusModuleName, model.BusGroup, m.ServiceBus != nil && m.ServiceBus.Enable))
	if len(c.Enabled()) == 0 {
		return nil, nil, errors.New("no module is enabled; enable modules.metaManager or modules.edgeHub")
	}
	return ed, hub, nil
}

func unimplemented(name, group string, requested bool) core.Unimplemented {
	return core.Unimplemented{ModuleName: name, ModuleGroup: group, Requested: requested}
}

func metaManagerConfig(c *config.MetaManager) metamanager.Config {
	if c == nil {
		return metamanager.Config{}
	}
	return metamanager.Config{
		Enable:             c.Enable,
		ContextSendGroup:   c.ContextSendGroup,
		ContextSendModule:  c.ContextSendModule,
		RemoteQueryTimeout: time.Duration(c.RemoteQueryTimeout) * time.Second,
		ResyncOnConnect:    true,
	}
}
