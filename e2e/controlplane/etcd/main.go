// Command etcd is the upstream etcd server, built from the pinned
// go.etcd.io/etcd/server/v3 module for Tokenway's end-to-end tests. It mirrors
// go.etcd.io/etcd/server/v3/main.go, which cannot be `go install`ed directly
// because the etcd module uses replace directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
