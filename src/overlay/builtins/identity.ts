// Who the node is and who its peers are (pure): the hostname and hosts overlays.
import { renderHosts } from '../../compile/head-files.ts';
import type { BuiltinInput, BuiltinResult } from '../types.ts';
import { file, header } from './entries.ts';

export function hostname(input: BuiltinInput): BuiltinResult {
  return { files: [file('etc/hostname', `${input.node.name}\n`)] };
}

/** The nodes' host table (head and every node, FQDN first when the spec has a domain): the same bytes on every node, so the plan groups them. The head keeps its own in the block Warewulf manages. */
export function hosts(input: BuiltinInput): BuiltinResult {
  return { files: [file('etc/hosts', renderHosts(input.model, header(input.model)))] };
}
