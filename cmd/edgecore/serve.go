package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/edgehub"
	"github.com/edgegate/edgegate/edgecore/metamanager"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
)

// serve loads the configuration, opens the store, registers every module
// and runs until a shutdown signal.
func serve(configPath string) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	klog.Infof("configuration %s loaded; node %s, store %s", configPath, cfg.NodeName(), cfg.Database.DataSource)
	db, err := dbm.Open(cfg.Database.DataSource, dbm.Options{})
	if err != nil {
		return err
	}
	c := core.New()
	if err := registerModules(c, cfg, db, configPath); err != nil {
		_ = db.Close()
		return err
	}
	return runCore(c, db)
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
// this release does not ship are registered as disabled and say so.
func registerModules(c *core.Core, cfg *config.EdgeCoreConfig, db *dbm.DB, configPath string) error {
	m := cfg.Modules
	c.Register(unimplemented(model.TwinModuleName, model.TwinGroup, m.DeviceTwin != nil && m.DeviceTwin.Enable))
	c.Register(unimplemented(model.EdgedModuleName, model.EdgedGroup, m.Edged != nil && m.Edged.Enable))

	hubCfg, err := edgehub.FromConfig(cfg)
	if err != nil {
		return err
	}
	hub, err := edgehub.New(hubCfg, c.Bus(), db, edgehub.WithTokenUsed(func() error { return edgehub.ClearToken(configPath) }))
	if err != nil {
		return fmt.Errorf("edgehub: %w", err)
	}
	c.Register(hub)

	c.Register(unimplemented(model.EventBusModuleName, model.BusGroup, m.EventBus != nil && m.EventBus.Enable))
	c.Register(unimplemented(model.EdgeMeshModuleName, model.MeshGroup, m.EdgeMesh != nil && m.EdgeMesh.Enable))

	mm, err := metamanager.New(metaManagerConfig(m.MetaManager), c.Bus(), db)
	if err != nil {
		return fmt.Errorf("metamanager: %w", err)
	}
	c.Register(mm)
	c.Register(nodestatus.New(nodeStatusConfig(cfg), c.Bus()))

	c.Register(unimplemented(model.ServiceBusModuleName, model.BusGroup, m.ServiceBus != nil && m.ServiceBus.Enable))
	if len(c.Enabled()) == 0 {
		return errors.New("no module is enabled; enable modules.metaManager or modules.edgeHub")
	}
	return nil
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
