// The provisioning address of one node as the network stacks need it (pure), refusing what the seed lab hit.
import { parseIPv4 } from '../../spec/ipv4.ts';
import type { NodeModel } from '../../spec/model.ts';
import type { OverlayProblem } from '../types.ts';

export interface NodeAddress {
  /** `10.0.0.2/24`. */
  readonly cidr: string;
  readonly gateway?: string;
}

/**
 * The seed's trap: a node registered without a netmask got a NetworkManager profile with a blank `address=` and booted
 * with no IP at all. A stack file is therefore never written without an address and a prefix; the node's overlay fails.
 */
export function nodeAddress(node: NodeModel, overlay: string): NodeAddress | { problems: OverlayProblem[] } {
  const at = node.at['address'] ?? node.at['prefix'];
  const where = at ? { at } : {};
  if (node.address === '' || parseIPv4(node.address) === undefined) {
    const shown = node.address === '' ? 'no IPv4 address' : `the address "${node.address}", which is not an IPv4 address`;
    return { problems: [{ code: 'overlay/no-address', message: `${overlay} cannot configure node ${node.name}'s provisioning NIC: it has ${shown}`, hint: `give ${node.name} an address: in the network's cidr`, ...where }] };
  }
  if (!Number.isInteger(node.prefix) || node.prefix < 1 || node.prefix > 32) {
    return {
      problems: [{ code: 'overlay/no-address', message: `${overlay} cannot configure node ${node.name}'s provisioning NIC: its prefix length is ${node.prefix}, so ${node.address} would have no netmask`, hint: 'set network.cidr with its prefix, e.g. 10.0.0.0/24', ...where }],
    };
  }
  return { cidr: `${node.address}/${node.prefix}`, ...(node.gateway ? { gateway: node.gateway } : {}) };
}
