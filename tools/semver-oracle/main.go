// Command semver-oracle answers constraint checks with the real
// Masterminds/semver (the library Helm and Flux use), for the differential
// tests of crates/flux-semver. Input lines: "CONSTRAINT<TAB>VERSION".
// Output lines: "true", "false", "ERR constraint" or "ERR version".
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/Masterminds/semver/v3"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		constraint, version, _ := strings.Cut(in.Text(), "\t")
		c, err := semver.NewConstraint(constraint)
		if err != nil {
			fmt.Fprintln(out, "ERR constraint")
			continue
		}
		v, err := semver.NewVersion(version)
		if err != nil {
			fmt.Fprintln(out, "ERR version")
			continue
		}
		fmt.Fprintln(out, c.Check(v))
	}
}
