// Command etcd is etcd's server, built from the version pinned in this
// module's go.mod; etcd publishes no importable command, only etcdmain.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
