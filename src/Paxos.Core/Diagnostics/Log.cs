using Microsoft.Extensions.Logging;

namespace Paxos.Diagnostics;

/// <summary>
/// Every log line of the library, source-generated. Event ids by area: 1000–1099 leader election,
/// 1100–1199 Prepare phase, 1200–1299 global ordering, 1300–1399 client handling, 1400–1499
/// reconciliation, 1900–1999 faults; 2000–2999 the node; 3000–3999 transports; 4000–4999 storage.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Replica {Replica}: leader election for view {View}")]
    public static partial void ShiftedToLeaderElection(ILogger logger, ReplicaId replica, ViewNumber view);

    [LoggerMessage(1001, LogLevel.Debug, "Replica {Replica}: preinstalled view {View}; progress timeout {TimeoutTicks} ticks")]
    public static partial void Preinstalled(ILogger logger, ReplicaId replica, ViewNumber view, int timeoutTicks);

    [LoggerMessage(1002, LogLevel.Information, "Replica {Replica}: installed view {View} as non-leader; leader is {Leader}")]
    public static partial void ShiftedToRegularNonLeader(ILogger logger, ReplicaId replica, ViewNumber view, ReplicaId leader);

    [LoggerMessage(1003, LogLevel.Information, "Replica {Replica}: rejoined view {View} (leader {Leader} is still leading it)")]
    public static partial void RejoinedView(ILogger logger, ReplicaId replica, ViewNumber view, ReplicaId leader);

    [LoggerMessage(1004, LogLevel.Warning, "Replica {Replica}: storage is empty and the cluster exists; rebuilding from peers, not voting until that is safe")]
    public static partial void RebuildStarted(ILogger logger, ReplicaId replica);

    [LoggerMessage(1005, LogLevel.Information, "Replica {Replica}: rebuilding: joined view {View} led by {Leader}; its constrained range ends at slot {Target} (view floor {Floor})")]
    public static partial void RebuildJoined(ILogger logger, ReplicaId replica, ViewNumber view, ReplicaId leader, SequenceNumber target, ViewNumber floor);

    [LoggerMessage(1008, LogLevel.Information, "Replica {Replica}: leaving view {View} for view {Floor}: rebuilding replica {Rebuilding} may install no view below it")]
    public static partial void GaveWayToRebuild(ILogger logger, ReplicaId replica, ViewNumber view, ReplicaId rebuilding, ViewNumber floor);

    [LoggerMessage(1007, LogLevel.Information, "Replica {Replica}: rebuilding: {Answers} intact replicas answered; no view below {Floor} will be installed")]
    public static partial void RebuildFloorLearned(ILogger logger, ReplicaId replica, ViewNumber floor, int answers);

    [LoggerMessage(1006, LogLevel.Information, "Replica {Replica}: rebuild complete at slot {LocalAru}; voting again")]
    public static partial void RebuildCompleted(ILogger logger, ReplicaId replica, SequenceNumber localAru);

    [LoggerMessage(1010, LogLevel.Debug, "Replica {Replica}: dropped {Message} from {Sender}: {Reason}")]
    public static partial void Dropped(ILogger logger, ReplicaId replica, PaxosMessage message, ReplicaId sender, DropReason reason);

    [LoggerMessage(1100, LogLevel.Information, "Replica {Replica}: preparing view {View} from aru {LocalAru}")]
    public static partial void ShiftedToPreparePhase(ILogger logger, ReplicaId replica, ViewNumber view, SequenceNumber localAru);

    [LoggerMessage(1101, LogLevel.Information, "Replica {Replica}: leading view {View}; aru {LocalAru}, slots up to {ConstrainedUpTo} constrained")]
    public static partial void ShiftedToRegularLeader(ILogger logger, ReplicaId replica, ViewNumber view, SequenceNumber localAru, SequenceNumber constrainedUpTo);

    [LoggerMessage(1102, LogLevel.Debug, "Replica {Replica}: leader {Leader} of view {View} is behind (aru {LeaderAru} < {LocalAru}); asked it to catch up")]
    public static partial void PrepareRejected(ILogger logger, ReplicaId replica, ReplicaId leader, ViewNumber view, SequenceNumber leaderAru, SequenceNumber localAru);

    [LoggerMessage(1200, LogLevel.Debug, "Replica {Replica}: ordered duplicate {Update} at {Sequence} consumed without executing (G12)")]
    public static partial void DuplicateSuppressed(ILogger logger, ReplicaId replica, ClientUpdate update, SequenceNumber sequence);

    [LoggerMessage(1401, LogLevel.Error, "Replica {Replica}: slot {Sequence} is ordered here as {Ordered}, but replica {Sender} says {Reported}; ignored (a bug or a forged message)")]
    public static partial void ConflictingOrder(ILogger logger, ReplicaId replica, SequenceNumber sequence, ClientUpdate ordered, ClientUpdate reported, ReplicaId sender);

    [LoggerMessage(1400, LogLevel.Debug, "Replica {Replica}: catching up slots {From}..{To} from {Peer}")]
    public static partial void CatchUpRequested(ILogger logger, ReplicaId replica, SequenceNumber from, SequenceNumber to, ReplicaId peer);

    [LoggerMessage(1900, LogLevel.Critical, "Replica {Replica}: stopped (fail-stop)")]
    public static partial void Faulted(ILogger logger, ReplicaId replica, Exception exception);
}

/// <summary>The node's log lines (event ids 2000–2999).</summary>
internal static partial class NodeLog
{
    [LoggerMessage(2000, LogLevel.Information, "Node {Replica} started: cluster of {ClusterSize}, recovered view {LastInstalled}")]
    public static partial void Started(ILogger logger, ReplicaId replica, int clusterSize, ViewNumber lastInstalled);

    [LoggerMessage(2001, LogLevel.Information, "Node {Replica} stopped")]
    public static partial void Stopped(ILogger logger, ReplicaId replica);

    [LoggerMessage(2002, LogLevel.Critical, "Node {Replica} stopped after a failure (fail-stop)")]
    public static partial void Faulted(ILogger logger, ReplicaId replica, Exception exception);
}

/// <summary>The file storage's log lines (event ids 4000–4999).</summary>
internal static partial class StorageLog
{
    [LoggerMessage(4000, LogLevel.Information, "Storage {Directory}: recovered view {LastInstalled} and {Records} log records from {Segments} segment(s)")]
    public static partial void Recovered(ILogger logger, string directory, ViewNumber lastInstalled, long records, int segments);

    [LoggerMessage(4001, LogLevel.Warning, "Storage {Directory}: cut a torn write of {TornBytes} bytes off {File} at offset {Offset} (a crash interrupted a write that was never acknowledged)")]
    public static partial void CutTornTail(ILogger logger, string directory, string file, long offset, long tornBytes);

    [LoggerMessage(4002, LogLevel.Warning, "Storage {Directory}: {File} has no header (a crash or a full disk interrupted its creation) and holds nothing; its header is written with its first records")]
    public static partial void ResumedTornSegment(ILogger logger, string directory, string file);

    [LoggerMessage(4003, LogLevel.Debug, "Storage {Directory}: deleted a view.tmp that was never renamed into place")]
    public static partial void DeletedViewTemp(ILogger logger, string directory);

    [LoggerMessage(4004, LogLevel.Debug, "Storage {Directory}: started segment {File}")]
    public static partial void StartedSegment(ILogger logger, string directory, string file);

    [LoggerMessage(4005, LogLevel.Critical, "Storage {Directory}: stopped after a failed write, fsync or recovery; the storage refuses every further call (fail-stop)")]
    public static partial void Faulted(ILogger logger, string directory, Exception exception);

    [LoggerMessage(4006, LogLevel.Error, "Storage {Directory}: could not record the failed fsync in {File}; do not restart a replica on this directory before the machine reboots")]
    public static partial void SyncFailureNotRecorded(ILogger logger, string directory, string file, Exception exception);

    [LoggerMessage(4007, LogLevel.Warning, "Storage {Directory}: an fsync failed before the machine last restarted ({Failure}); what the log now reads is what the disk held, so recovery goes on and {File} is removed")]
    public static partial void SyncFailureCleared(ILogger logger, string directory, string file, string failure);

    [LoggerMessage(4020, LogLevel.Information, "Storage {Directory}: recorded that the directory belongs to {Identity}")]
    public static partial void IdentityRecorded(ILogger logger, string directory, string identity);

    [LoggerMessage(4021, LogLevel.Warning, "Storage {Directory}: the directory holds a log but no identity file (it was written by a version that did not record one, in the same format), so it is now recorded as belonging to {Identity}; if it is not that replica's directory, stop the replica and restore the directory")]
    public static partial void IdentityRecordedForExistingDirectory(ILogger logger, string directory, string identity);
}
