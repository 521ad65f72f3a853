// Warewulf's two readings of a boolean string (WWbool.Bool and WWbool.BoolDefaultTrue), from Warewulf 4.6.5's own wwtype
// package compiled from the oracle's source tree, against herd's twins in spec/warewulf-facts.ts. The import judges
// "same meaning" of onboot, discoverable and ipmi write with them: "off" is an onboot of true for Warewulf, "on" a
// discoverable of false.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { wwBool, wwBoolDefaultTrue } from '../../src/spec/warewulf-facts.ts';
import { imageBuildMissing, warewulfProgram } from './warewulf-image-build.ts';

const MAIN = `// Written by herd's tests (test/integration/warewulf-bool.test.ts): WWbool's readings of each argument, one line each.
package main

import (
	"fmt"
	"os"

	"github.com/warewulf/warewulf/internal/pkg/wwtype"
)

func main() {
	for _, a := range os.Args[1:] {
		b := wwtype.WWbool(a)
		fmt.Printf("%t %t\\n", b.Bool(), b.BoolDefaultTrue())
	}
}
`;

const SPELLINGS = ['', 'true', 'True', 'TRUE', 'tRuE', 'false', 'False', 'yes', 'YES', 'Yes', 'no', 'NO', '1', '0', 't', 'T', 'f', 'F', 'y', 'n', 'on', 'off', 'ON', 'OFF', 'enable', '2', '-1', ' true', 'true ', 'unset', 'UNSET', 'undef', 'delete', '--', 'nil', '0.0.0.0', 'garbage'];

const missing = imageBuildMissing();
describe.skipIf(missing !== undefined && process.env.CI_REQUIRE_ORACLE !== '1')("Warewulf 4.6.5's WWbool readings", () => {
  it('herd reads every spelling as Warewulf does, both readings', () => {
    if (missing) throw new Error(missing);
    const r = spawnSync(warewulfProgram('herd-ww-bool', MAIN), SPELLINGS, { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(SPELLINGS.length);
    const herd = SPELLINGS.map((s) => `${wwBool(s)} ${wwBoolDefaultTrue(s)}`);
    expect(Object.fromEntries(SPELLINGS.map((s, i) => [JSON.stringify(s), herd[i]]))).toEqual(Object.fromEntries(SPELLINGS.map((s, i) => [JSON.stringify(s), lines[i]])));
    // The readings do differ (the test can fail): Warewulf's onboot of "off" is true, its discoverable of "on" false.
    expect(lines[SPELLINGS.indexOf('off')]).toBe('false true');
  }, 600_000);
});
