package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/edgegate/edgegate/boards"
)

func runBoards(_ context.Context, args []string) error {
	fs := flagSet("boards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tARCH\tQEMU\tDESCRIPTION")
	for _, b := range boards.All() {
		emu := "no"
		if b.Emulation != nil {
			emu = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", b.Name, b.Arch, emu, b.Description)
	}
	return w.Flush()
}
