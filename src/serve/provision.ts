// What warewulfd answers to one provisioning request (pure over an injected read-only view of the root): Warewulf 4.6.5's
// ProvisionSend (internal/pkg/warewulfd/provision.go, util.go) for the boot path, minus the builds: herd serves only what
// `herd apply` wrote, so a missing overlay image is a 404 where warewulfd would build it.
import { kernelForNode, type RootfsView } from './find-kernel.ts';
import { renderDefaultIpxe, renderUnconfiguredIpxe } from './ipxe-script.ts';
import type { ProvisionRequest } from './parse-request.ts';
import type { ServeModel, ServeNode } from './serve-model.ts';

/** warewulfd's log levels that the provision path uses (wwlog names). */
export type LogLevel = 'INFO' | 'WARN' | 'ERROR' | 'SERV' | 'DENIED';
export interface LogEntry {
  readonly level: LogLevel;
  readonly message: string;
}

/** Read-only view of the root; every path is relative to it. */
export interface RootView {
  /** 'file' for a regular file (never through a symlink that leaves the root), 'blocked' when the walk was refused. */
  fileState(rel: string): 'file' | 'missing' | 'blocked';
  /** The image's rootfs, for the kernel search. */
  rootfs(rel: string): RootfsView;
}

export type ProvisionBody =
  | { readonly kind: 'empty' }
  | { readonly kind: 'text'; readonly text: string }
  /** A file of the root, sent with Go's http.ServeContent semantics (HEAD, Range). */
  | { readonly kind: 'file'; readonly rel: string; readonly node: string };

export interface ProvisionAnswer {
  readonly status: number;
  readonly body: ProvisionBody;
  readonly log: readonly LogEntry[];
  /** The node the request was for, when its MAC is known. */
  readonly node?: string;
}

/** Overlay names warewulf accepts (`^[a-zA-Z0-9-._:]+$`); `overlay=` values become file names, so nothing else is let through. */
const OVERLAY_NAME = /^[a-zA-Z0-9\-._:]+$/;

/**
 * Decide the answer to a parsed request. `root` is the display form of the root folder, used only in log lines.
 * The order follows ProvisionSend: log the request, refuse the runtime overlay to an unprivileged port when secure, look the
 * node up, pick the stage's file (or template), check it exists, then apply `compress`.
 */
export function decideProvision(req: ProvisionRequest, model: ServeModel, view: RootView, root: string): ProvisionAnswer {
  const log: LogEntry[] = [{ level: 'INFO', message: `request from hwaddr:${req.hwaddr} ipaddr:${req.remoteAddr} | stage:${req.stage}` }];
  const done = (status: number, body: ProvisionBody = { kind: 'empty' }, node?: string): ProvisionAnswer => ({ status, body, log, ...(node ? { node } : {}) });
  const shown = (rel: string) => (rel === '' ? '' : `${root.replace(/\/+$/, '')}/${rel}`);

  if ((req.stage === 'runtime' || req.overlay !== '') && model.secure && req.remotePort >= 1024) {
    log.push({ level: 'DENIED', message: `Non-privileged port: ${req.remoteAddr}` });
    return done(401);
  }

  const node = model.nodesByMac.get(req.hwaddr);
  if (!node) {
    // herd has no discoverable nodes: an unknown MAC is never adopted.
    log.push({ level: 'WARN', message: `node not configured: ${req.hwaddr}` });
    log.push({ level: 'ERROR', message: `${req.hwaddr} (unknown/unconfigured node)` });
    if (req.stage === 'ipxe') return template(renderUnconfiguredIpxe(req.hwaddr), 'etc/warewulf/ipxe/unconfigured.ipxe', undefined);
    log.push({ level: 'SERV', message: `stage_file ''` });
    log.push({ level: 'ERROR', message: 'No resource selected' });
    return done(400);
  }

  function template(text: string, name: string, id: string | undefined): ProvisionAnswer {
    log.push({ level: 'SERV', message: `stage_file '${name} (built into herd)'` });
    if (req.compress !== '') {
      log.push({ level: 'ERROR', message: `Unsupported ${req.compress} compressed version for file: ${name}` });
      return done(404, { kind: 'empty' }, id);
    }
    log.push({ level: 'INFO', message: `send ${name} -> ${id ?? ''}` });
    return done(200, { kind: 'text', text }, id);
  }

  if (req.stage === 'ipxe') {
    if (node.ipxeTemplate !== 'default') {
      log.push({ level: 'SERV', message: `stage_file 'etc/warewulf/ipxe/${node.ipxeTemplate}.ipxe'` });
      log.push({ level: 'ERROR', message: `Not found: ipxe template ${node.ipxeTemplate} (herd renders only default.ipxe)` });
      return done(404, { kind: 'empty' }, node.id);
    }
    return template(renderDefaultIpxe(ipxeVarsOf(node, req, model, view)), 'etc/warewulf/ipxe/default.ipxe', node.id);
  }

  let stageFile = '';
  if (req.stage === 'kernel') {
    const k = kernelOf(node, model, view);
    if (!k) log.push({ level: 'ERROR', message: `No kernel found for node ${node.id}` });
    else stageFile = `${chrootOf(model, node)}/${k.path}`;
  } else if (req.stage === 'image') {
    stageFile = `${model.stateDir}/provision/images/${node.image}.img`;
  } else if (req.stage === 'system' || req.stage === 'runtime') {
    if (req.overlay !== '') {
      const names = req.overlay.split(',');
      const bad = names.find((n) => !OVERLAY_NAME.test(n) || n === '.' || n === '..');
      if (bad !== undefined) {
        log.push({ level: 'DENIED', message: `overlay name ${JSON.stringify(bad)} is not one Warewulf accepts` });
        return done(400, { kind: 'empty' }, node.id);
      }
      stageFile = `${model.stateDir}/provision/overlays/${node.id}/${names.join('-')}.img`;
    } else stageFile = `${model.stateDir}/provision/overlays/${node.id}/__${req.stage.toUpperCase()}__.img`;
  }
  // efiboot, shim, grub and initramfs (the dracut and UEFI-grub paths) are not served yet: no resource, as for an unknown stage.

  log.push({ level: 'SERV', message: `stage_file '${shown(stageFile)}'` });
  if (stageFile === '') {
    log.push({ level: 'ERROR', message: 'No resource selected' });
    return done(400, { kind: 'empty' }, node.id);
  }
  const state = view.fileState(stageFile);
  if (state === 'blocked') {
    log.push({ level: 'DENIED', message: `refused: ${shown(stageFile)} leaves the root or is not a regular file` });
    return done(404, { kind: 'empty' }, node.id);
  }
  if (state === 'missing') {
    log.push({ level: 'ERROR', message: `Not found: ${shown(stageFile)}` });
    return done(404, { kind: 'empty' }, node.id);
  }
  if (req.compress === 'gz') {
    // warewulfd checks the uncompressed file first (above), then wants the .gz beside it.
    const gz = `${stageFile}.gz`;
    const gzState = view.fileState(gz);
    if (gzState !== 'file') {
      log.push(gzState === 'blocked' ? { level: 'DENIED', message: `refused: ${shown(gz)} leaves the root or is not a regular file` } : { level: 'ERROR', message: `unprepared for compressed version of file ${shown(gz)}` });
      return done(404, { kind: 'empty' }, node.id);
    }
    stageFile = gz;
  } else if (req.compress !== '') {
    // warewulfd writes the 404 header and then still streams the file into it; herd sends the 404 alone.
    log.push({ level: 'ERROR', message: `unsupported ${req.compress} compressed version of file ${shown(stageFile)}` });
    return done(404, { kind: 'empty' }, node.id);
  }
  log.push({ level: 'INFO', message: `send ${shown(stageFile)} -> ${node.id}` });
  return done(200, { kind: 'file', rel: stageFile, node: node.id }, node.id);
}

const chrootOf = (model: ServeModel, node: ServeNode): string => `${model.stateDir}/chroots/${node.image}/rootfs`;

function kernelOf(node: ServeNode, model: ServeModel, view: RootView) {
  return kernelForNode(view.rootfs(chrootOf(model, node)), node.kernelVersion);
}

/** provision.go's templateVars for the ipxe stage. */
function ipxeVarsOf(node: ServeNode, req: ProvisionRequest, model: ServeModel, view: RootView) {
  const kernelVersion = node.kernelVersion ?? kernelOf(node, model, view)?.version ?? '';
  return {
    id: node.id,
    hwaddr: req.hwaddr,
    imageName: node.image,
    ipaddr: model.ipaddr,
    port: String(model.port),
    authority: model.authority,
    kernelArgs: node.kernelArgs.join(' '),
    kernelVersion,
    root: node.root,
    tags: node.tags,
    netdevs: Object.fromEntries(node.netdevs.map((d) => [d.name, { hwaddr: d.hwaddr, ...(d.device ? { device: d.device } : {}) }])),
  };
}
