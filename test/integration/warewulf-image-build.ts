// Test helper: Warewulf 4.6.5's own image builder (internal/pkg/image.Build, what `wwctl image build` runs), compiled from the
// Warewulf oracle's source tree (../shared/oracles/warewulf, built by its build.sh into WW_ORACLE_WORK).
//
// The oracle's reduced wwctl has no `image` command, so this adds a ten-line main that calls image.Build itself, with the
// chroot and provision folders given on the command line. It is built inside the oracle's GOPATH tree (Go only lets code
// below github.com/warewulf/warewulf import its internal packages), with the oracle's own toolchain, flags and build cache.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MAIN = `// Written by herd's tests (test/integration/warewulf-image-build.ts): Warewulf's own image.Build on given folders.
package main

import (
	"fmt"
	"os"

	warewulfconf "github.com/warewulf/warewulf/internal/pkg/config"
	"github.com/warewulf/warewulf/internal/pkg/image"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: herd-ww-image-build CHROOTDIR PROVISIONDIR NAME [--force]")
		os.Exit(2)
	}
	conf := warewulfconf.Get()
	conf.Paths.WWChrootdir = os.Args[1]
	conf.Paths.WWProvisiondir = os.Args[2]
	force := len(os.Args) > 4 && os.Args[4] == "--force"
	if err := image.Build(os.Args[3], force); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %s\\n", err)
		os.Exit(255)
	}
}
`;

export const WW_ORACLE_WORK = process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle';
const GO = '/usr/lib/go-1.23/bin/go';

/** Why Warewulf's image builder cannot be built here, or undefined when it can. */
export function imageBuildMissing(): string | undefined {
  if (!existsSync(join(WW_ORACLE_WORK, 'bin/wworacle'))) return `the Warewulf oracle is not built (${WW_ORACLE_WORK}/bin/wworacle; run ../shared/oracles/warewulf/build.sh)`;
  if (!existsSync(GO)) return `${GO} is missing (the oracle's build.sh installs golang-1.23-go)`;
  if (spawnSync('cpio', ['--version']).status !== 0) return 'GNU cpio is missing (Warewulf packs images with it)';
  return undefined;
}

/**
 * Build (once) a small Go program `name` whose main.go is `main`, inside the oracle's source tree (so it may import
 * Warewulf's internal packages), with the oracle's toolchain, flags and build cache; returns the binary's path.
 */
export function warewulfProgram(name: string, main: string): string {
  const bin = join(WW_ORACLE_WORK, `bin/${name}`);
  if (existsSync(bin)) return bin;
  const tree = join(WW_ORACLE_WORK, 'gopath/src/github.com/warewulf/warewulf');
  mkdirSync(join(tree, `cmd/${name}`), { recursive: true });
  writeFileSync(join(tree, `cmd/${name}/main.go`), main);
  const env = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: `${join(WW_ORACLE_WORK, 'gopath')}:/usr/share/gocode`,
    GOFLAGS: '-tags=wworacle',
    GOTOOLCHAIN: 'local',
    GOPROXY: 'off',
    GOCACHE: join(WW_ORACLE_WORK, 'gocache'),
  };
  const r = spawnSync(GO, ['build', '-o', `${bin}.tmp`, `./cmd/${name}`], { cwd: tree, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building ${name} against Warewulf's source failed:\n${r.stderr}${r.stdout}`);
  spawnSync('mv', [`${bin}.tmp`, bin]);
  return bin;
}

/** Build (once) and return the path of the image.Build program. */
export function warewulfImageBuilder(): string {
  return warewulfProgram('herd-ww-image-build', MAIN);
}

/** Run Warewulf's image.Build for image `name` with its chroot under `chrootDir` and its .img under `provisionDir`/images. */
export function warewulfImageBuild(chrootDir: string, provisionDir: string, name: string, force: boolean): { status: number | null; output: string } {
  const r = spawnSync(warewulfImageBuilder(), [chrootDir, provisionDir, name, ...(force ? ['--force'] : [])], { encoding: 'utf8', timeout: 600_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
