// Keys Slurm 22.05 accepts in slurm.conf, and the ones herd writes itself (pure data). slurmctld refuses any unknown key.

export const SLURM_GLOBAL_KEYS: readonly string[] = [
  'AccountingStorageBackupHost', 'AccountingStorageEnforce', 'AccountingStorageExternalHost', 'AccountingStorageHost', 'AccountingStorageParameters',
  'AccountingStoragePass', 'AccountingStoragePort', 'AccountingStorageTRES', 'AccountingStorageType', 'AccountingStorageUser', 'AccountingStoreFlags',
  'AcctGatherEnergyType', 'AcctGatherFilesystemType', 'AcctGatherInterconnectType', 'AcctGatherNodeFreq', 'AcctGatherProfileType', 'AllowSpecResourcesUsage',
  'AuthAltParameters', 'AuthAltTypes', 'AuthInfo', 'AuthType', 'BatchStartTimeout', 'BcastExclude', 'BcastParameters', 'BurstBufferType', 'CliFilterPlugins',
  'ClusterName', 'CommunicationParameters', 'CompleteWait', 'ControlAddr', 'ControlMachine', 'CoreSpecPlugin', 'CpuFreqDef', 'CpuFreqGovernors', 'CredType',
  'DebugFlags', 'DefCpuPerGPU', 'DefMemPerCPU', 'DefMemPerGPU', 'DefMemPerNode', 'DependencyParameters', 'DisableRootJobs', 'EioTimeout', 'EnforcePartLimits',
  'Epilog', 'EpilogMsgTime', 'EpilogSlurmctld', 'ExtSensorsFreq', 'ExtSensorsType', 'FairShareDampeningFactor', 'FederationParameters', 'FirstJobId',
  'GetEnvTimeout', 'GpuFreqDef', 'GresTypes', 'GroupUpdateForce', 'GroupUpdateTime', 'HealthCheckInterval', 'HealthCheckNodeState', 'HealthCheckProgram',
  'InactiveLimit', 'Include', 'InteractiveStepOptions', 'JobAcctGatherFrequency', 'JobAcctGatherParams', 'JobAcctGatherType', 'JobCompHost', 'JobCompLoc',
  'JobCompParams', 'JobCompPass', 'JobCompPort', 'JobCompType', 'JobCompUser', 'JobContainerType', 'JobFileAppend', 'JobRequeue', 'JobSubmitPlugins',
  'KillOnBadExit', 'KillWait', 'LaunchParameters', 'Licenses', 'LogTimeFormat', 'MailDomain', 'MailProg', 'MaxArraySize', 'MaxBatchRequeue', 'MaxDBDMsgs',
  'MaxJobCount', 'MaxJobId', 'MaxMemPerCPU', 'MaxMemPerNode', 'MaxNodeCount', 'MaxStepCount', 'MaxTasksPerNode', 'MCSParameters', 'MCSPlugin',
  'MessageTimeout', 'MinJobAge', 'MpiDefault', 'MpiParams', 'NodeFeaturesPlugins', 'OverTimeLimit', 'PluginDir', 'PlugStackConfig', 'PowerParameters',
  'PowerPlugin', 'PreemptExemptTime', 'PreemptMode', 'PreemptParameters', 'PreemptType', 'PrEpParameters', 'PrEpPlugins', 'PriorityCalcPeriod',
  'PriorityDecayHalfLife', 'PriorityFavorSmall', 'PriorityFlags', 'PriorityMaxAge', 'PriorityParameters', 'PrioritySiteFactorParameters',
  'PrioritySiteFactorPlugin', 'PriorityType', 'PriorityUsageResetPeriod', 'PriorityWeightAge', 'PriorityWeightAssoc', 'PriorityWeightFairshare',
  'PriorityWeightJobSize', 'PriorityWeightPartition', 'PriorityWeightQOS', 'PriorityWeightTRES', 'PrivateData', 'ProctrackType', 'Prolog',
  'PrologEpilogTimeout', 'PrologFlags', 'PrologSlurmctld', 'PropagatePrioProcess', 'PropagateResourceLimits', 'PropagateResourceLimitsExcept',
  'RebootProgram', 'ReconfigFlags', 'RequeueExit', 'RequeueExitHold', 'ResumeFailProgram', 'ResumeProgram', 'ResumeRate', 'ResumeTimeout', 'ResvEpilog',
  'ResvOverRun', 'ResvProlog', 'ReturnToService', 'RoutePlugin', 'SchedulerParameters', 'SchedulerTimeSlice', 'SchedulerType', 'ScronParameters',
  'SelectType', 'SelectTypeParameters', 'SlurmctldAddr', 'SlurmctldDebug', 'SlurmctldHost', 'SlurmctldLogFile', 'SlurmctldParameters', 'SlurmctldPidFile',
  'SlurmctldPlugstack', 'SlurmctldPort', 'SlurmctldPrimaryOffProg', 'SlurmctldPrimaryOnProg', 'SlurmctldSyslogDebug', 'SlurmctldTimeout', 'SlurmdDebug',
  'SlurmdLogFile', 'SlurmdParameters', 'SlurmdPidFile', 'SlurmdPort', 'SlurmdSpoolDir', 'SlurmdSyslogDebug', 'SlurmdTimeout', 'SlurmdUser',
  'SlurmSchedLogFile', 'SlurmSchedLogLevel', 'SlurmUser', 'SrunEpilog', 'SrunPortRange', 'SrunProlog', 'StateSaveLocation', 'SuspendExcNodes',
  'SuspendExcParts', 'SuspendProgram', 'SuspendRate', 'SuspendTime', 'SuspendTimeout', 'SwitchParameters', 'SwitchType', 'TaskEpilog', 'TaskPlugin',
  'TaskPluginParam', 'TaskProlog', 'TCPTimeout', 'TmpFS', 'TopologyParam', 'TopologyPlugin', 'TrackWCKey', 'TreeWidth', 'UnkillableStepProgram',
  'UnkillableStepTimeout', 'UsePAM', 'VSizeFactor', 'WaitTime', 'X11Parameters',
];

export const SLURM_NODE_KEYS: readonly string[] = [
  'NodeName', 'NodeHostname', 'NodeAddr', 'BcastAddr', 'Boards', 'CoreSpecCount', 'CoresPerSocket', 'CpuBind', 'CPUs', 'CPUSpecList', 'Features', 'Gres',
  'MemSpecLimit', 'Port', 'Procs', 'RealMemory', 'Reason', 'Sockets', 'SocketsPerBoard', 'State', 'ThreadsPerCore', 'TmpDisk', 'Weight',
];

export const SLURM_PARTITION_KEYS: readonly string[] = [
  'PartitionName', 'AllocNodes', 'AllowAccounts', 'AllowGroups', 'AllowQos', 'Alternate', 'CpuBind', 'Default', 'DefaultTime', 'DefCpuPerGPU', 'DefMemPerCPU',
  'DefMemPerGPU', 'DefMemPerNode', 'DenyAccounts', 'DenyQos', 'DisableRootJobs', 'ExclusiveUser', 'GraceTime', 'Hidden', 'LLN', 'MaxCPUsPerNode',
  'MaxMemPerCPU', 'MaxMemPerNode', 'MaxNodes', 'MaxTime', 'MinNodes', 'Nodes', 'OverSubscribe', 'OverTimeLimit', 'PowerDownOnIdle', 'PreemptMode',
  'PriorityJobFactor', 'PriorityTier', 'QOS', 'ReqResv', 'ResumeTimeout', 'RootOnly', 'SelectTypeParameters', 'State', 'SuspendTime', 'SuspendTimeout',
  'TRESBillingWeights',
];

/** Keys herd derives from the spec; setting them in an `extra` map would fight the spec. */
export const HERD_OWNED_GLOBAL = ['ClusterName', 'SlurmctldHost', 'ControlMachine', 'ControlAddr', 'ReturnToService', 'PreemptType', 'PreemptMode', 'NodeName', 'PartitionName'];
export const HERD_OWNED_NODE = ['NodeName', 'NodeAddr', 'NodeHostname', 'CPUs', 'Procs', 'Sockets', 'CoresPerSocket', 'ThreadsPerCore', 'RealMemory', 'Gres', 'Features', 'Weight', 'State'];
export const HERD_OWNED_PARTITION = ['PartitionName', 'Nodes', 'Default', 'MaxTime', 'DefaultTime', 'PriorityTier', 'PreemptMode', 'State'];

/** Case-insensitive lookup (slurm.conf keys are case-insensitive) returning Slurm's canonical spelling. */
export function canonicalKey(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  return known.find((x) => x.toLowerCase() === k);
}
