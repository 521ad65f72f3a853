// Who the node is and who its peers are (pure): the hostname and hosts overlays.
import { renderHosts } from '../../compile/head-files.ts';
import type { BuiltinInput, BuiltinResult } from '../types.ts';
import { file, header } from './entries.ts';

export function hostname(input: BuiltinInput): BuiltinResult {
  return { files: [file('etc/hostname', `${input.node.name}\n`)] };
}

/** The head's own host table, byte for byte: the same file on every node (so the plan groups them) and on the head. */
export function hosts(input: BuiltinInput): BuiltinResult {
  return { files: [file('etc/hosts', renderHosts(input.model, header(input.model)))] };
}
