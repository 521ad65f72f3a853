// Keys each supported Slurm version accepts in slurm.conf, and the ones herd writes itself (pure data). slurmctld refuses any
// unknown key. Read from Slurm's own option tables (src/common/read_config.c: slurm_conf_options[], _nodename_options[],
// _partition_options[]) at tags slurm-22-05-8-1 and slurm-24-11-5-1, minus the keys whose value makes slurmctld fatal
// ("has been removed": AccountingStorageLoc, AccountingStoreJobComment, FastSchedule, SallocDefaultCommand) and the
// line keys NodeName/PartitionName/NodeSet/DownNodes/FrontendName. test/integration/slurm-keys.test.ts feeds every key to
// each version's real slurmctld.

/** Slurm releases herd writes slurm.conf for: Debian 12's 22.05 and Debian 13's 24.11, each proved against its real slurmctld. */
export const SLURM_VERSIONS = ['22.05', '24.11'] as const;
export type SlurmVersion = (typeof SLURM_VERSIONS)[number];
/** What the lab and condo examples run on (Debian 12's slurm-wlm 22.05). */
export const DEFAULT_SLURM_VERSION: SlurmVersion = '22.05';

/** General keys both 22.05 and 24.11 accept (Include is read by the parser itself, not from the table). */
const GLOBAL_BOTH: readonly string[] = [
  'Include', 'AccountingStorageBackupHost', 'AccountingStorageEnforce', 'AccountingStorageExternalHost', 'AccountingStorageHost',
  'AccountingStorageParameters', 'AccountingStoragePass', 'AccountingStoragePort', 'AccountingStorageTRES', 'AccountingStorageType',
  'AccountingStorageUser', 'AccountingStoreFlags', 'AcctGatherEnergyType', 'AcctGatherFilesystemType', 'AcctGatherInfinibandType',
  'AcctGatherInterconnectType', 'AcctGatherNodeFreq', 'AcctGatherProfileType', 'AllowSpecResourcesUsage', 'AuthAltParameters', 'AuthAltTypes',
  'AuthInfo', 'AuthType', 'BackupAddr', 'BackupController', 'BatchStartTimeout', 'BcastExclude', 'BcastParameters', 'BurstBufferParameters',
  'BurstBufferType', 'CliFilterPlugins', 'ClusterName', 'CommunicationParameters', 'CompleteWait', 'ControlAddr', 'ControlMachine', 'CpuFreqDef',
  'CpuFreqGovernors', 'CredType', 'CryptoType', 'DebugFlags', 'DefCPUPerGPU', 'DefMemPerCPU', 'DefMemPerGPU', 'DefMemPerNode',
  'DependencyParameters', 'DisableRootJobs', 'EioTimeout', 'EnforcePartLimits', 'Epilog', 'EpilogMsgTime', 'EpilogSlurmctld',
  'FairShareDampeningFactor', 'FederationParameters', 'FirstJobId', 'GetEnvTimeout', 'GpuFreqDef', 'GresTypes', 'GroupUpdateForce',
  'GroupUpdateTime', 'HealthCheckInterval', 'HealthCheckNodeState', 'HealthCheckProgram', 'InactiveLimit', 'InteractiveStepOptions',
  'JobAcctGatherFrequency', 'JobAcctGatherParams', 'JobAcctGatherType', 'JobCompHost', 'JobCompLoc', 'JobCompParams', 'JobCompPass', 'JobCompPort',
  'JobCompType', 'JobCompUser', 'JobContainerType', 'JobFileAppend', 'JobRequeue', 'JobSubmitPlugins', 'KeepAliveTime', 'KillOnBadExit', 'KillWait',
  'LaunchParameters', 'LaunchType', 'Licenses', 'LogTimeFormat', 'MailDomain', 'MailProg', 'MaxArraySize', 'MaxDBDMsgs', 'MaxJobCount', 'MaxJobId',
  'MaxMemPerCPU', 'MaxMemPerNode', 'MaxNodeCount', 'MaxStepCount', 'MaxTasksPerNode', 'MCSParameters', 'MCSPlugin', 'MessageTimeout', 'MinJobAge',
  'MpiDefault', 'MpiParams', 'NodeFeaturesPlugins', 'OverTimeLimit', 'PluginDir', 'PlugStackConfig', 'PreemptExemptTime', 'PreemptMode',
  'PreemptType', 'PrEpParameters', 'PrEpPlugins', 'PriorityCalcPeriod', 'PriorityDecayHalfLife', 'PriorityFavorSmall', 'PriorityFlags',
  'PriorityMaxAge', 'PriorityParameters', 'PrioritySiteFactorParameters', 'PrioritySiteFactorPlugin', 'PriorityType', 'PriorityUsageResetPeriod',
  'PriorityWeightAge', 'PriorityWeightAssoc', 'PriorityWeightFairshare', 'PriorityWeightJobSize', 'PriorityWeightPartition', 'PriorityWeightQOS',
  'PriorityWeightTRES', 'PrivateData', 'ProctrackType', 'Prolog', 'PrologEpilogTimeout', 'PrologFlags', 'PrologSlurmctld', 'PropagatePrioProcess',
  'PropagateResourceLimits', 'PropagateResourceLimitsExcept', 'RebootProgram', 'ReconfigFlags', 'RequeueExit', 'RequeueExitHold',
  'ResumeFailProgram', 'ResumeProgram', 'ResumeRate', 'ResumeTimeout', 'ResvEpilog', 'ResvOverRun', 'ResvProlog', 'ReturnToService', 'RoutePlugin',
  'SbcastParameters', 'SchedulerParameters', 'SchedulerTimeSlice', 'SchedulerType', 'ScronParameters', 'SelectType', 'SelectTypeParameters',
  'SlurmctldAddr', 'SlurmctldDebug', 'SlurmctldHost', 'SlurmctldLogFile', 'SlurmctldParameters', 'SlurmctldPidFile', 'SlurmctldPort',
  'SlurmctldPrimaryOffProg', 'SlurmctldPrimaryOnProg', 'SlurmctldSyslogDebug', 'SlurmctldTimeout', 'SlurmdDebug', 'SlurmdLogFile',
  'SlurmdParameters', 'SlurmdPidFile', 'SlurmdPort', 'SlurmdSpoolDir', 'SlurmdSyslogDebug', 'SlurmdTimeout', 'SlurmdUser', 'SlurmSchedLogFile',
  'SlurmSchedLogLevel', 'SlurmUser', 'SrunEpilog', 'SrunPortRange', 'SrunProlog', 'StateSaveLocation', 'SuspendExcNodes', 'SuspendExcParts',
  'SuspendProgram', 'SuspendRate', 'SuspendTime', 'SuspendTimeout', 'SwitchParameters', 'SwitchType', 'TaskEpilog', 'TaskPlugin', 'TaskPluginParam',
  'TaskProlog', 'TCPTimeout', 'TmpFS', 'TopologyParam', 'TopologyPlugin', 'TrackWCKey', 'TreeWidth', 'UnkillableStepProgram',
  'UnkillableStepTimeout', 'UsePAM', 'VSizeFactor', 'WaitTime', 'X11Parameters',
];

/** General keys 22.05 accepts and 24.11 does not: SlurmctldPlugstack is unknown to 24.11 (slurmctld exits), the rest are defunct there. */
const GLOBAL_ONLY_22_05: readonly string[] = [
  'CoreSpecPlugin', 'ExtSensorsFreq', 'ExtSensorsType', 'JobCredentialPrivateKey', 'JobCredentialPublicCertificate', 'PowerParameters',
  'PowerPlugin', 'SlurmctldPlugstack',
];

/** General keys added after 22.05 (22.05 refuses them as unrecognized). */
const GLOBAL_ONLY_24_11: readonly string[] = [
  'CertmgrParameters', 'CertmgrType', 'DataParserParameters', 'HashPlugin', 'MaxBatchRequeue', 'PreemptParameters', 'SuspendExcStates',
  'TLSParameters', 'TLSType',
];

/** NodeName line keys both versions accept. */
const NODE_BOTH: readonly string[] = [
  'NodeName', 'BcastAddr', 'Boards', 'CoreSpecCount', 'CoresPerSocket', 'CpuBind', 'CPUs', 'CPUSpecList', 'Feature', 'Features', 'Gres',
  'MemSpecLimit', 'NodeAddr', 'NodeHostname', 'Port', 'Procs', 'RealMemory', 'Reason', 'Sockets', 'SocketsPerBoard', 'State', 'ThreadsPerCore',
  'TmpDisk', 'TRESWeights', 'Weight',
];

/** NodeName line keys added after 22.05. */
const NODE_ONLY_24_11: readonly string[] = [
  'RestrictedCoresPerGPU',
];

/** PartitionName line keys both versions accept. */
const PARTITION_BOTH: readonly string[] = [
  'PartitionName', 'AllocNodes', 'AllowAccounts', 'AllowGroups', 'AllowQos', 'Alternate', 'CpuBind', 'Default', 'DefaultTime', 'DefCPUPerGPU',
  'DefMemPerCPU', 'DefMemPerGPU', 'DefMemPerNode', 'DenyAccounts', 'DenyQos', 'DisableRootJobs', 'ExclusiveUser', 'GraceTime', 'Hidden', 'LLN',
  'MaxCPUsPerNode', 'MaxMemPerCPU', 'MaxMemPerNode', 'MaxNodes', 'MaxTime', 'MinNodes', 'Nodes', 'OverSubscribe', 'OverTimeLimit', 'PreemptMode',
  'Priority', 'PriorityJobFactor', 'PriorityTier', 'QOS', 'ReqResv', 'ResumeTimeout', 'RootOnly', 'SelectTypeParameters', 'Shared', 'State',
  'SuspendTime', 'SuspendTimeout', 'TRESBillingWeights',
];

/** PartitionName line keys added after 22.05. */
const PARTITION_ONLY_24_11: readonly string[] = [
  'ExclusiveTopo', 'MaxCPUsPerSocket', 'PowerDownOnIdle',
];

/** General keys 24.11 still parses but calls defunct ("The option \"X\" is defunct, please remove it from slurm.conf.") and ignores. */
const DEFUNCT_24_11: readonly string[] = [
  'CoreSpecPlugin', 'ExtSensorsFreq', 'ExtSensorsType', 'JobCredentialPrivateKey', 'JobCredentialPublicCertificate', 'PowerParameters',
  'PowerPlugin',
];


export interface SlurmKeyTable {
  readonly global: readonly string[];
  readonly node: readonly string[];
  readonly partition: readonly string[];
  /** General keys slurmctld still parses but ignores with "is defunct" (never valid to write). */
  readonly defunct: readonly string[];
}

export const SLURM_KEYS: Readonly<Record<SlurmVersion, SlurmKeyTable>> = {
  '22.05': { global: [...GLOBAL_BOTH, ...GLOBAL_ONLY_22_05], node: NODE_BOTH, partition: PARTITION_BOTH, defunct: ['SchedulerAuth'] },
  '24.11': { global: [...GLOBAL_BOTH, ...GLOBAL_ONLY_24_11], node: [...NODE_BOTH, ...NODE_ONLY_24_11], partition: [...PARTITION_BOTH, ...PARTITION_ONLY_24_11], defunct: DEFUNCT_24_11 },
};

const union = (pick: (t: SlurmKeyTable) => readonly string[]): readonly string[] => [...new Set(SLURM_VERSIONS.flatMap((v) => pick(SLURM_KEYS[v])))];

/** Keys some supported version accepts (what an imported site slurm.conf may hold). */
export const SLURM_GLOBAL_KEYS: readonly string[] = union((t) => t.global);
export const SLURM_NODE_KEYS: readonly string[] = union((t) => t.node);
export const SLURM_PARTITION_KEYS: readonly string[] = union((t) => t.partition);

/** Keys herd derives from the spec; setting them in an `extra` map would fight the spec. */
export const HERD_OWNED_GLOBAL = ['ClusterName', 'SlurmctldHost', 'ControlMachine', 'ControlAddr', 'ReturnToService', 'PreemptType', 'PreemptMode', 'NodeName', 'PartitionName'];
export const HERD_OWNED_NODE = ['NodeName', 'NodeAddr', 'NodeHostname', 'CPUs', 'Procs', 'Sockets', 'CoresPerSocket', 'ThreadsPerCore', 'RealMemory', 'Gres', 'Features', 'Feature', 'Weight', 'State'];
export const HERD_OWNED_PARTITION = ['PartitionName', 'Nodes', 'Default', 'MaxTime', 'DefaultTime', 'PriorityTier', 'PreemptMode', 'State'];

/**
 * General keys herd writes with its own defaults (src/compile/slurm-conf.ts), which slurm.extra may set to null to leave
 * out so Slurm takes its own default: what an imported site that never set them keeps. Not GresTypes (the GPUs need it)
 * nor SlurmctldParameters (configless needs it); the owned keys above are the spec's.
 */
export const HERD_DEFAULT_GLOBAL = [
  'SlurmUser', 'SlurmdUser', 'AuthType', 'CredType', 'StateSaveLocation', 'SlurmdSpoolDir', 'SlurmctldPidFile', 'SlurmdPidFile',
  'SlurmctldLogFile', 'SlurmdLogFile', 'ProctrackType', 'TaskPlugin', 'SelectType', 'SelectTypeParameters', 'SchedulerType',
  'MpiDefault', 'SlurmdTimeout', 'SlurmctldTimeout', 'PriorityType',
];

/**
 * slurm.conf keys herd states whose value is what slurmctld 22.05 and 24.11 take when the key is absent (read_config.h's
 * DEFAULT_* and slurmctld's `scontrol show config` of a slurm.conf without them, as test/integration/import-oracles.test.ts
 * checks on real slurmctld): writing them out changes nothing. Keyed by the lower-cased key.
 */
export const SLURM_DEFAULTS: Readonly<Record<string, string>> = {
  authtype: 'auth/munge',
  credtype: 'cred/munge',
  mpidefault: 'none',
  preempttype: 'preempt/none',
  proctracktype: 'proctrack/cgroup',
  schedulertype: 'sched/backfill',
  slurmdspooldir: '/var/spool/slurmd',
  slurmduser: 'root',
  slurmctldtimeout: '120',
  slurmdtimeout: '300',
};

/** Case-insensitive lookup (slurm.conf keys are case-insensitive) returning Slurm's canonical spelling. */
export function canonicalKey(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  return known.find((x) => x.toLowerCase() === k);
}
